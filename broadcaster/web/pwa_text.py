"""The residents' app's own words (buttons, headings, messages) in the languages it speaks.

The alerts themselves come in the resident's language from the renderer; these are the fixed
words around them (docs/website.md, "The residents' app"). A language without its own set falls
back like alert texts do (broadcaster/render/languages.py): easy Japanese, then Japanese.
"""

from __future__ import annotations

from collections.abc import Mapping

from broadcaster.render.languages import EASY_JA, JA, SUPPORTED, canonical

# Words the page prints (server side) and words its script shows (handed over as JSON).
_JA: dict[str, str] = {
    "drill": "訓練",
    "test": "試験",
    "town_wide": "全域",
    "app": "防災アプリ",
    "skip": "本文へ移動",
    "safety_title": "安否確認",
    "safety_intro": "役場が、皆さんが無事かどうかを確認しています。あてはまるものを押してください。",
    "safety_note": "ひとこと（なくてもかまいません。例: 公民館にいます）",
    "now_title": "発表中の情報",
    "offline": "オフラインです。最後に受け取った情報を表示しています。",
    "noscript_site": "情報は次のページで確認できます（JavaScript なしで表示できます）:",
    "site_page": "緊急情報のページ",
    "settings_title": "通知の設定",
    "noscript_push": "通知を受け取るには JavaScript を有効にしてください。",
    "districts": "お住まいの地区（いくつでも選べます）",
    "topics": "受け取る情報（選ばなければ、すべて受け取ります）",
    "subscribe": "通知を受け取る",
    "unsubscribe": "通知をやめる",
    "site_link": "緊急情報のページ（文字を大きくできます）",
    "none": "現在、発表中の緊急情報はありません。",
    "current": "発表中: ",
    "sent": "発表 ",
    "updated": "最終更新 ",
    "load_failed": "情報を読み込めませんでした。通信できる場所でもう一度お試しください。",
    "save": "設定を保存する",
    "no_push": "このブラウザは通知に対応していません。情報はこのページで確認できます。",
    "no_vapid": "この町では、まだ通知の準備ができていません。",
    "registering": "登録しています…",
    "not_permitted": "通知が許可されていません",
    "registered": "登録しました。通知をお届けします。",
    "register_failed": "登録できませんでした: ",
    "leaving": "解除しています…",
    "left": "通知を解除しました。",
    "leave_failed": "解除できませんでした: ",
    "sending": "送っています…",
    "no_subscription": "通知の登録がありません",
    "received": "「{label}」を受け付けました。ありがとうございます。変わったときは、もう一度押してください。",
    "send_failed": "送れませんでした: ",
}

_EASY: dict[str, str] = {
    "drill": "くんれん",
    "test": "しけん",
    "town_wide": "まち ぜんぶ",
    "app": "ぼうさい アプリ",
    "skip": "ほんぶん へ",
    "safety_title": "あんぜん の かくにん",
    "safety_intro": "やくば が、みなさん が ぶじ か どうか しらべて います。あう もの を おして ください。",
    "safety_note": "ひとこと（なくても いいです。れい: こうみんかん に います）",
    "now_title": "いま でている じょうほう",
    "offline": "インターネット に つながって いません。さいご に うけとった じょうほう です。",
    "noscript_site": "じょうほう は つぎ の ページ で みる ことが できます:",
    "site_page": "きんきゅう じょうほう の ページ",
    "settings_title": "つうち の せってい",
    "noscript_push": "つうち を うけとる には JavaScript を オン に して ください。",
    "districts": "すんで いる ちく（いくつ でも えらべます）",
    "topics": "うけとる じょうほう（えらばない と、ぜんぶ うけとります）",
    "subscribe": "つうち を うけとる",
    "unsubscribe": "つうち を やめる",
    "site_link": "きんきゅう じょうほう の ページ（もじ を おおきく できます）",
    "none": "いま、でている きんきゅう じょうほう は ありません。",
    "current": "いま でている: ",
    "sent": "でた じかん ",
    "updated": "さいご に しらべた じかん ",
    "load_failed": "じょうほう を よめません でした。つながる ところ で もう いちど して ください。",
    "save": "せってい を ほぞん する",
    "no_push": "この ブラウザ では つうち が つかえません。じょうほう は この ページ で みて ください。",
    "no_vapid": "この まち では、まだ つうち の じゅんび が できて いません。",
    "registering": "とうろく して います…",
    "not_permitted": "つうち が ゆるされて いません",
    "registered": "とうろく しました。つうち を おくります。",
    "register_failed": "とうろく できません でした: ",
    "leaving": "やめて います…",
    "left": "つうち を やめました。",
    "leave_failed": "やめる ことが できません でした: ",
    "sending": "おくって います…",
    "no_subscription": "つうち の とうろく が ありません",
    "received": "「{label}」を うけとりました。ありがとう ございます。かわったら、もう いちど おして ください。",
    "send_failed": "おくれません でした: ",
}

_EN: dict[str, str] = {
    "drill": "Drill",
    "test": "Test",
    "town_wide": "Whole town",
    "app": "disaster app",
    "skip": "Skip to content",
    "safety_title": "Safety check",
    "safety_intro": "The town is checking that everyone is safe. Press the answer that fits you.",
    "safety_note": "A short note (optional, e.g. I am at the community hall)",
    "now_title": "Alerts in force",
    "offline": "You are offline. This is the last information received.",
    "noscript_site": "The information is on this page (works without JavaScript):",
    "site_page": "emergency information page",
    "settings_title": "Notification settings",
    "noscript_push": "Turn on JavaScript to receive notifications.",
    "districts": "Where you live (choose any number)",
    "topics": "What to receive (choose none to receive everything)",
    "subscribe": "Get notifications",
    "unsubscribe": "Stop notifications",
    "site_link": "emergency information page (text can be enlarged)",
    "none": "No emergency alerts are in force now.",
    "current": "In force: ",
    "sent": "Issued ",
    "updated": "Last updated ",
    "load_failed": "Could not load the information. Try again where you have a connection.",
    "save": "Save settings",
    "no_push": "This browser cannot show notifications. Check this page for information.",
    "no_vapid": "Notifications are not ready yet in this town.",
    "registering": "Signing up…",
    "not_permitted": "Notifications are not allowed",
    "registered": "Signed up. You will get notifications.",
    "register_failed": "Could not sign up: ",
    "leaving": "Stopping…",
    "left": "Notifications stopped.",
    "leave_failed": "Could not stop: ",
    "sending": "Sending…",
    "no_subscription": "Not signed up for notifications",
    "received": "“{label}” received. Thank you. If this changes, press again.",
    "send_failed": "Could not send: ",
}

_VI: dict[str, str] = {
    "drill": "Diễn tập",
    "test": "Thử nghiệm",
    "town_wide": "Toàn thị trấn",
    "app": "ứng dụng phòng chống thiên tai",
    "skip": "Đến nội dung chính",
    "safety_title": "Xác nhận an toàn",
    "safety_intro": "Chính quyền đang xác nhận mọi người có an toàn không. Hãy bấm câu trả lời phù hợp.",
    "safety_note": "Ghi chú ngắn (không bắt buộc, ví dụ: tôi đang ở nhà văn hóa)",
    "now_title": "Thông tin đang có hiệu lực",
    "offline": "Bạn đang ngoại tuyến. Đây là thông tin nhận được lần cuối.",
    "noscript_site": "Xem thông tin tại trang này (không cần JavaScript):",
    "site_page": "trang thông tin khẩn cấp",
    "settings_title": "Cài đặt thông báo",
    "noscript_push": "Hãy bật JavaScript để nhận thông báo.",
    "districts": "Khu vực bạn sống (chọn bao nhiêu cũng được)",
    "topics": "Thông tin muốn nhận (không chọn thì nhận tất cả)",
    "subscribe": "Nhận thông báo",
    "unsubscribe": "Ngừng nhận thông báo",
    "site_link": "trang thông tin khẩn cấp (có thể phóng to chữ)",
    "none": "Hiện không có thông tin khẩn cấp nào.",
    "current": "Đang có hiệu lực: ",
    "sent": "Phát hành ",
    "updated": "Cập nhật lần cuối ",
    "load_failed": "Không tải được thông tin. Hãy thử lại ở nơi có kết nối.",
    "save": "Lưu cài đặt",
    "no_push": "Trình duyệt này không hỗ trợ thông báo. Hãy xem thông tin trên trang này.",
    "no_vapid": "Thị trấn này chưa sẵn sàng gửi thông báo.",
    "registering": "Đang đăng ký…",
    "not_permitted": "Thông báo chưa được cho phép",
    "registered": "Đã đăng ký. Bạn sẽ nhận được thông báo.",
    "register_failed": "Không đăng ký được: ",
    "leaving": "Đang hủy…",
    "left": "Đã ngừng nhận thông báo.",
    "leave_failed": "Không hủy được: ",
    "sending": "Đang gửi…",
    "no_subscription": "Chưa đăng ký nhận thông báo",
    "received": "Đã nhận “{label}”. Xin cảm ơn. Nếu có thay đổi, hãy bấm lại.",
    "send_failed": "Không gửi được: ",
}

_ZH_HANS: dict[str, str] = {
    "drill": "演习",
    "test": "测试",
    "town_wide": "全町",
    "app": "防灾应用",
    "skip": "跳到正文",
    "safety_title": "安全确认",
    "safety_intro": "政府正在确认大家是否安全。请按符合您情况的按钮。",
    "safety_note": "简短留言（可不填，例如：我在公民馆）",
    "now_title": "正在发布的信息",
    "offline": "当前离线。显示的是最后收到的信息。",
    "noscript_site": "信息可在以下页面查看（无需 JavaScript）：",
    "site_page": "紧急信息页面",
    "settings_title": "通知设置",
    "noscript_push": "要接收通知，请启用 JavaScript。",
    "districts": "您居住的地区（可多选）",
    "topics": "接收的信息（不选则全部接收）",
    "subscribe": "接收通知",
    "unsubscribe": "停止通知",
    "site_link": "紧急信息页面（可放大文字）",
    "none": "目前没有正在发布的紧急信息。",
    "current": "正在发布：",
    "sent": "发布 ",
    "updated": "最后更新 ",
    "load_failed": "无法读取信息。请在有网络的地方再试一次。",
    "save": "保存设置",
    "no_push": "此浏览器不支持通知。请在本页面查看信息。",
    "no_vapid": "本町尚未准备好通知。",
    "registering": "正在登记…",
    "not_permitted": "未允许通知",
    "registered": "已登记。我们会向您发送通知。",
    "register_failed": "无法登记：",
    "leaving": "正在取消…",
    "left": "已停止通知。",
    "leave_failed": "无法取消：",
    "sending": "正在发送…",
    "no_subscription": "尚未登记通知",
    "received": "已收到“{label}”。谢谢。情况有变时请再按一次。",
    "send_failed": "无法发送：",
}

_KO: dict[str, str] = {
    "drill": "훈련",
    "test": "시험",
    "town_wide": "전역",
    "app": "방재 앱",
    "skip": "본문으로 이동",
    "safety_title": "안부 확인",
    "safety_intro": "관공서에서 여러분의 안전을 확인하고 있습니다. 해당하는 것을 눌러 주세요.",
    "safety_note": "한마디 (없어도 됩니다. 예: 공민관에 있습니다)",
    "now_title": "발표 중인 정보",
    "offline": "오프라인입니다. 마지막으로 받은 정보를 표시합니다.",
    "noscript_site": "정보는 다음 페이지에서 확인할 수 있습니다 (JavaScript 없이 표시됩니다):",
    "site_page": "긴급 정보 페이지",
    "settings_title": "알림 설정",
    "noscript_push": "알림을 받으려면 JavaScript를 켜 주세요.",
    "districts": "사는 지구 (몇 개든 선택 가능)",
    "topics": "받을 정보 (선택하지 않으면 모두 받습니다)",
    "subscribe": "알림 받기",
    "unsubscribe": "알림 끄기",
    "site_link": "긴급 정보 페이지 (글자를 크게 할 수 있습니다)",
    "none": "현재 발표 중인 긴급 정보는 없습니다.",
    "current": "발표 중: ",
    "sent": "발표 ",
    "updated": "마지막 업데이트 ",
    "load_failed": "정보를 불러오지 못했습니다. 통신이 되는 곳에서 다시 시도해 주세요.",
    "save": "설정 저장",
    "no_push": "이 브라우저는 알림을 지원하지 않습니다. 정보는 이 페이지에서 확인하세요.",
    "no_vapid": "이 지역은 아직 알림 준비가 되지 않았습니다.",
    "registering": "등록 중…",
    "not_permitted": "알림이 허용되지 않았습니다",
    "registered": "등록했습니다. 알림을 보내 드립니다.",
    "register_failed": "등록하지 못했습니다: ",
    "leaving": "해제 중…",
    "left": "알림을 해제했습니다.",
    "leave_failed": "해제하지 못했습니다: ",
    "sending": "보내는 중…",
    "no_subscription": "알림 등록이 없습니다",
    "received": "「{label}」을(를) 접수했습니다. 감사합니다. 바뀌면 다시 눌러 주세요.",
    "send_failed": "보내지 못했습니다: ",
}

_PT: dict[str, str] = {
    "drill": "Simulado",
    "test": "Teste",
    "town_wide": "Toda a cidade",
    "app": "app de prevenção de desastres",
    "skip": "Ir para o conteúdo",
    "safety_title": "Confirmação de segurança",
    "safety_intro": "A prefeitura está verificando se todos estão bem. Toque na resposta que combina com você.",
    "safety_note": "Uma nota curta (opcional, ex.: estou no centro comunitário)",
    "now_title": "Alertas em vigor",
    "offline": "Você está sem conexão. Estas são as últimas informações recebidas.",
    "noscript_site": "As informações estão nesta página (funciona sem JavaScript):",
    "site_page": "página de informações de emergência",
    "settings_title": "Configurar notificações",
    "noscript_push": "Ative o JavaScript para receber notificações.",
    "districts": "Onde você mora (escolha quantos quiser)",
    "topics": "O que receber (sem escolha, recebe tudo)",
    "subscribe": "Receber notificações",
    "unsubscribe": "Parar notificações",
    "site_link": "página de informações de emergência (o texto pode ser ampliado)",
    "none": "Não há alertas de emergência em vigor agora.",
    "current": "Em vigor: ",
    "sent": "Emitido ",
    "updated": "Última atualização ",
    "load_failed": "Não foi possível carregar as informações. Tente de novo onde houver conexão.",
    "save": "Salvar configurações",
    "no_push": "Este navegador não mostra notificações. Veja as informações nesta página.",
    "no_vapid": "As notificações ainda não estão prontas nesta cidade.",
    "registering": "Cadastrando…",
    "not_permitted": "As notificações não foram permitidas",
    "registered": "Cadastrado. Você receberá notificações.",
    "register_failed": "Não foi possível cadastrar: ",
    "leaving": "Cancelando…",
    "left": "Notificações canceladas.",
    "leave_failed": "Não foi possível cancelar: ",
    "sending": "Enviando…",
    "no_subscription": "Sem cadastro de notificações",
    "received": "“{label}” recebido. Obrigado. Se mudar, toque de novo.",
    "send_failed": "Não foi possível enviar: ",
}

WORDS: Mapping[str, Mapping[str, str]] = {
    JA: _JA,
    EASY_JA: _EASY,
    "en": _EN,
    "vi": _VI,
    "zh-Hans": _ZH_HANS,
    "ko": _KO,
    "pt": _PT,
}

# The topics a resident may choose (broadcaster/audience.py TOPICS), as each language names them.
TOPIC_NAMES: Mapping[str, Mapping[str, str]] = {
    EASY_JA: {"気象": "てんき", "地震": "じしん", "津波": "つなみ", "火山": "かざん", "避難": "ひなん",
              "国民保護": "ミサイル など", "ライフライン": "でんき・すいどう など", "お知らせ": "おしらせ"},
    "en": {"気象": "Weather", "地震": "Earthquakes", "津波": "Tsunami", "火山": "Volcanoes", "避難": "Evacuation",
           "国民保護": "Civil protection", "ライフライン": "Utilities", "お知らせ": "Notices"},
    "vi": {"気象": "Thời tiết", "地震": "Động đất", "津波": "Sóng thần", "火山": "Núi lửa", "避難": "Sơ tán",
           "国民保護": "Bảo vệ dân sự", "ライフライン": "Điện, nước, khí đốt", "お知らせ": "Thông báo"},
    "zh-Hans": {"気象": "气象", "地震": "地震", "津波": "海啸", "火山": "火山", "避難": "避难",
                "国民保護": "国民保护", "ライフライン": "生命线（水电气）", "お知らせ": "通知"},
    "ko": {"気象": "기상", "地震": "지진", "津波": "쓰나미", "火山": "화산", "避難": "대피",
           "国民保護": "국민 보호", "ライフライン": "라이프라인", "お知らせ": "공지"},
    "pt": {"気象": "Tempo", "地震": "Terremotos", "津波": "Tsunami", "火山": "Vulcões", "避難": "Evacuação",
           "国民保護": "Proteção civil", "ライフライン": "Serviços (água, luz, gás)", "お知らせ": "Avisos"},
}  # fmt: skip

# The safety check's answers (broadcaster/safety_links.py ANSWERS), as each language names them.
ANSWER_NAMES: Mapping[str, Mapping[str, str]] = {
    EASY_JA: {"safe": "ぶじ です", "need_help": "たすけ が ひつよう", "evacuated": "ひなん しました"},
    "en": {"safe": "I am safe", "need_help": "I need help", "evacuated": "I have evacuated"},
    "vi": {"safe": "Tôi an toàn", "need_help": "Tôi cần giúp đỡ", "evacuated": "Tôi đã sơ tán"},
    "zh-Hans": {"safe": "平安", "need_help": "需要帮助", "evacuated": "已避难"},
    "ko": {"safe": "무사합니다", "need_help": "도움이 필요합니다", "evacuated": "대피했습니다"},
    "pt": {"safe": "Estou bem", "need_help": "Preciso de ajuda", "evacuated": "Já evacuei"},
}


def answer_name(value: str, label: str, lang: str) -> str:
    return ANSWER_NAMES.get(canonical(lang), {}).get(value, label)


def topic_name(topic: str, lang: str) -> str:
    return TOPIC_NAMES.get(canonical(lang), {}).get(topic, topic)


def chosen(asked: str | None, accept_language: str | None) -> str:
    """The language the page is written in: the one asked for (?lang=), else the browser's first
    one we have words for, else Japanese."""
    if asked:
        lang = canonical(asked)
        if lang in WORDS:
            return lang
        if lang in SUPPORTED:
            return EASY_JA  # a language we have no words for: easy Japanese, as alert texts do
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip()
        if tag and tag != "*" and canonical(tag) in WORDS:
            return canonical(tag)
    return JA


def words(lang: str) -> Mapping[str, str]:
    """The app's words in ``lang``; languages without their own set read easy Japanese."""
    return WORDS.get(canonical(lang), _EASY)


def district_name(name: str, name_en: str | None, lang: str) -> str:
    """A district as a reader of ``lang`` knows it: Japanese readers get the kanji, everyone else
    the English (romanised) name the town set, else the kanji."""
    if canonical(lang) in (JA, EASY_JA) or not name_en:
        return name
    return name_en
