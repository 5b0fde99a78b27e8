"""The site's own words (headings, states, labels) in each language it publishes pages in.

The alert texts themselves come from the renderer in each language the town sent; these are the
fixed words around them, so that a Vietnamese reader's page is Vietnamese from its heading to its
footer (docs/website.md, *Languages*). Japanese pages stay at the site's root; every other language
has the same pages under ``<tag>/`` (``en/alerts/<id>.html``). Pure.

One row per word, one column per language in the order of PAGE_LANGUAGES, so that a missing
translation is a short row, which the unit test refuses, rather than a silent Japanese word.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

from broadcaster.render.languages import EASY_JA, JA

# The languages the site writes its pages in: those the residents' app speaks too. A reader of
# another language gets easy Japanese, as the renderer's fallback does (docs/website.md).
PAGE_LANGUAGES: tuple[str, ...] = (JA, EASY_JA, "en", "vi", "zh-Hans", "ko", "pt")

# fmt: off
_ROWS: dict[str, tuple[str, ...]] = {
    "skip": ("本文へ移動", "ほんぶん へ", "Skip to content", "Đến nội dung chính", "跳到正文", "본문으로 이동", "Ir para o conteúdo"),
    "site": ("{town} 緊急情報", "{town} きんきゅう じょうほう", "{town} emergency information", "Thông tin khẩn cấp {town}", "{town} 紧急信息", "{town} 긴급 정보", "Informações de emergência de {town}"),
    "top": ("トップ", "はじめ の ページ", "Home", "Trang đầu", "首页", "처음", "Início"),
    "textsize": ("文字の大きさ", "もじ の おおきさ", "Text size", "Cỡ chữ", "文字大小", "글자 크기", "Tamanho do texto"),
    "large": ("文字を大きく", "もじ を おおきく", "Larger text", "Chữ to hơn", "放大文字", "글자 크게", "Texto maior"),
    "normal": ("標準の文字", "ふつう の もじ", "Normal text", "Chữ thường", "标准文字", "보통 글자", "Texto normal"),
    "language": ("言語", "ことば", "Language", "Ngôn ngữ", "语言", "언어", "Idioma"),
    "districts_nav": ("地区ごとの情報", "ちく ごと の じょうほう", "By district", "Theo khu vực", "各地区的信息", "지구별 정보", "Por bairro"),
    "whole_town": ("町全体", "まち ぜんぶ", "Whole town", "Toàn thị trấn", "全町", "마을 전체", "Toda a cidade"),
    "h1": ("{place}の緊急情報", "{place} の きんきゅう じょうほう", "Emergency information: {place}", "Thông tin khẩn cấp: {place}", "{place}的紧急信息", "{place} 긴급 정보", "Informações de emergência: {place}"),
    "now": ("発表中の情報", "いま でている じょうほう", "Alerts in force", "Cảnh báo đang có hiệu lực", "正在发布的信息", "발표 중인 정보", "Alertas em vigor"),
    "count": ("{n}件の情報が発表されています。", "じょうほう が {n}こ でて います。", "{n} alert(s) in force.", "Có {n} cảnh báo đang có hiệu lực.", "目前发布了{n}条信息。", "{n}건의 정보가 발표 중입니다.", "{n} alerta(s) em vigor."),
    "none": ("現在、発表中の緊急情報はありません。", "いま、でている きんきゅう じょうほう は ありません。", "No emergency alerts are in force now.", "Hiện không có cảnh báo khẩn cấp nào.", "目前没有正在发布的紧急信息。", "현재 발표 중인 긴급 정보가 없습니다.", "Não há alertas de emergência em vigor agora."),
    "past": ("これまでの情報", "これまで の じょうほう", "Earlier messages", "Các thông tin trước đây", "以往的信息", "지난 정보", "Mensagens anteriores"),
    "sent": ("発表", "でた じかん", "Issued", "Ban hành", "发布", "발표", "Emitido"),
    "expires": ("有効期限", "いつ まで", "Valid until", "Hiệu lực đến", "有效期至", "유효 기한", "Válido até"),
    "severity": ("重大度", "どのくらい あぶない か", "Severity", "Mức độ", "严重程度", "심각도", "Gravidade"),
    "areas": ("対象地域", "ばしょ", "Areas", "Khu vực", "对象地区", "대상 지역", "Áreas"),
    "footer": ("発行: {town}。この情報は自動で更新されます。", "だした ひと: {town}。この じょうほう は じどう で かわります。", "Published by {town}. This page updates itself.", "Do {town} phát hành. Trang này tự động cập nhật.", "发布：{town}。本信息自动更新。", "발행: {town}. 이 정보는 자동으로 갱신됩니다.", "Publicado por {town}. Esta página se atualiza sozinha."),
    # Said by site.js when an open page redrew itself after a publish; {time} is HH:MM, the town's clock.
    "live_updated": ("この情報は更新されました（{time}）。最新の内容を表示しています。", "じょうほう が かわりました（{time}）。あたらしい ないよう を だして います。", "This page was updated ({time}). It shows the latest information.", "Trang này đã được cập nhật ({time}). Đang hiển thị thông tin mới nhất.", "信息已更新（{time}）。现在显示的是最新内容。", "정보가 갱신되었습니다({time}). 최신 내용을 표시하고 있습니다.", "Esta página foi atualizada ({time}). Mostra a informação mais recente."),
    "data": ("データ", "データ", "Data", "Dữ liệu", "数据", "데이터", "Dados"),
    "feed": ("Atom フィード", "Atom フィード", "Atom feed", "Nguồn Atom", "Atom 订阅", "Atom 피드", "Feed Atom"),
    "cap_feed": ("CAP フィード", "CAP フィード", "CAP feed", "Nguồn CAP", "CAP 订阅", "CAP 피드", "Feed CAP"),
    "back": ("発表中の情報の一覧へ戻る", "いま でている じょうほう の リスト へ", "Back to the alerts in force", "Quay lại danh sách cảnh báo", "返回正在发布的信息列表", "발표 중인 정보 목록으로", "Voltar aos alertas em vigor"),
    "this_data": ("この情報のデータ", "この じょうほう の データ", "This message as data", "Dữ liệu của thông tin này", "本信息的数据", "이 정보의 데이터", "Esta mensagem em dados"),
    "other_languages": ("ほかの言語で読む", "ほか の ことば で よむ", "Read in other languages", "Đọc bằng ngôn ngữ khác", "用其他语言阅读", "다른 언어로 읽기", "Ler em outros idiomas"),
    "details": ("詳細", "くわしい こと", "Details", "Chi tiết", "详细信息", "상세", "Detalhes"),
    "other_details": ("ほかの言語の詳細", "ほか の ことば の くわしい こと", "Details in other languages", "Chi tiết bằng ngôn ngữ khác", "其他语言的详细信息", "다른 언어의 상세", "Detalhes em outros idiomas"),
    "only_in": ("この情報は{language}でだけ届いています。", "この じょうほう は {language} だけ です。", "This message came only in {language}.", "Thông tin này chỉ có bằng {language}.", "本信息只有{language}版本。", "이 정보는 {language}로만 제공됩니다.", "Esta mensagem veio só em {language}."),
    "cancel_heading": ("取消のお知らせ", "とりけし の おしらせ", "Cancellation", "Thông báo hủy", "取消通知", "취소 안내", "Cancelamento"),
    "cancelled_box": ("この情報は取り消されました。", "この じょうほう は とりけされ ました。", "This message was cancelled.", "Thông tin này đã bị hủy.", "本信息已被取消。", "이 정보는 취소되었습니다.", "Esta mensagem foi cancelada."),
    "see_cancel": ("取消のお知らせを見る", "とりけし の おしらせ を みる", "See the cancellation", "Xem thông báo hủy", "查看取消通知", "취소 안내 보기", "Ver o cancelamento"),
    "superseded_box": ("この情報には新しい情報があります。", "あたらしい じょうほう が あります。", "There is newer information.", "Đã có thông tin mới hơn.", "本信息已有更新。", "새로운 정보가 있습니다.", "Há informações mais recentes."),
    "see_newest": ("最新の情報を見る", "あたらしい じょうほう を みる", "See the newest information", "Xem thông tin mới nhất", "查看最新信息", "최신 정보 보기", "Ver a informação mais recente"),
    "lifted_box": ("この情報は解除されました。", "この じょうほう は おわり ました。", "This alert has been lifted.", "Cảnh báo này đã được dỡ bỏ.", "本信息已解除。", "이 정보는 해제되었습니다.", "Este alerta foi suspenso."),
    "expired_box": ("この情報の有効期限は過ぎています。", "この じょうほう は もう おわって います。", "This message has expired.", "Thông tin này đã hết hiệu lực.", "本信息已过有效期。", "이 정보는 유효 기한이 지났습니다.", "Esta mensagem expirou."),
    "cancel_box": ("以前の情報を取り消します。", "まえ の じょうほう を とりけし ます。", "An earlier message is cancelled.", "Thông tin trước đó bị hủy.", "取消之前的信息。", "이전 정보를 취소합니다.", "Uma mensagem anterior foi cancelada."),
    "view_current": ("発表中", "でている", "In force", "Đang hiệu lực", "发布中", "발표 중", "Em vigor"),
    "view_superseded": ("更新済み", "あたらしく なった", "Updated", "Đã cập nhật", "已更新", "갱신됨", "Atualizado"),
    "view_cancelled": ("取消", "とりけし", "Cancelled", "Đã hủy", "已取消", "취소됨", "Cancelado"),
    "view_cancel": ("取消のお知らせ", "とりけし の おしらせ", "Cancellation", "Thông báo hủy", "取消通知", "취소 안내", "Cancelamento"),
    "view_lifted": ("解除", "おわり", "Lifted", "Đã dỡ bỏ", "已解除", "해제", "Suspenso"),
    "view_expired": ("期限切れ", "おわり", "Expired", "Hết hiệu lực", "已过期", "기한 만료", "Expirado"),
    "status_Exercise": ("訓練", "くんれん", "Drill", "Diễn tập", "演习", "훈련", "Simulado"),
    "status_Test": ("試験", "しけん", "Test", "Thử nghiệm", "测试", "시험", "Teste"),
    "status_System": ("システム", "システム", "System", "Hệ thống", "系统", "시스템", "Sistema"),
    "status_Draft": ("下書き", "したがき", "Draft", "Bản nháp", "草稿", "초안", "Rascunho"),
    "note_Exercise": ("これは訓練です。実際の災害ではありません。", "これ は くんれん です。ほんとう の さいがい では ありません。", "This is a drill. It is not a real disaster.", "Đây là diễn tập. Không phải thảm họa thật.", "这是演习，不是真实的灾害。", "이것은 훈련입니다. 실제 재난이 아닙니다.", "Isto é um simulado. Não é um desastre real."),
    "note_Test": ("これは試験です。実際の災害ではありません。", "これ は しけん です。ほんとう の さいがい では ありません。", "This is a test. It is not a real disaster.", "Đây là thử nghiệm. Không phải thảm họa thật.", "这是测试，不是真实的灾害。", "이것은 시험입니다. 실제 재난이 아닙니다.", "Isto é um teste. Não é um desastre real."),
    "note_System": ("これはシステムの連絡です。", "これ は システム の れんらく です。", "This is a system message.", "Đây là thông báo hệ thống.", "这是系统消息。", "시스템 메시지입니다.", "Esta é uma mensagem do sistema."),
    "note_Draft": ("これは下書きです。", "これ は したがき です。", "This is a draft.", "Đây là bản nháp.", "这是草稿。", "초안입니다.", "Isto é um rascunho."),
    "sev_Extreme": ("極めて重大", "とても あぶない", "Extreme", "Cực kỳ nghiêm trọng", "极其严重", "매우 심각", "Extrema"),
    "sev_Severe": ("重大", "あぶない", "Severe", "Nghiêm trọng", "严重", "심각", "Grave"),
    "sev_Moderate": ("中程度", "すこし あぶない", "Moderate", "Trung bình", "中等", "보통", "Moderada"),
    "sev_Minor": ("軽微", "あまり あぶなくない", "Minor", "Nhẹ", "轻微", "경미", "Menor"),
    "sev_Unknown": ("不明", "わからない", "Unknown", "Không rõ", "不明", "알 수 없음", "Desconhecida"),
    "urg_Immediate": ("直ちに", "すぐ", "Immediate", "Ngay lập tức", "立即", "즉시", "Imediata"),
    "urg_Expected": ("間もなく", "もうすぐ", "Expected soon", "Sắp xảy ra", "即将", "곧", "Em breve"),
    "urg_Future": ("今後", "これから", "Later", "Sau này", "今后", "향후", "Mais tarde"),
    "urg_Past": ("終了", "おわった", "Past", "Đã qua", "已结束", "종료", "Passada"),
    "urg_Unknown": ("不明", "わからない", "Unknown", "Không rõ", "不明", "알 수 없음", "Desconhecida"),
    "cer_Observed": ("発生", "おきた", "Observed", "Đã xảy ra", "已发生", "발생", "Observada"),
    "cer_Likely": ("可能性が高い", "おきそう", "Likely", "Có khả năng cao", "可能性高", "가능성 높음", "Provável"),
    "cer_Possible": ("可能性がある", "おきる かも", "Possible", "Có thể xảy ra", "有可能", "가능성 있음", "Possível"),
    "cer_Unlikely": ("可能性は低い", "たぶん おきない", "Unlikely", "Ít khả năng", "可能性低", "가능성 낮음", "Improvável"),
    "cer_Unknown": ("不明", "わからない", "Unknown", "Không rõ", "不明", "알 수 없음", "Desconhecida"),
    "i_event": ("種別", "なに が", "Type", "Loại", "类别", "종류", "Tipo"),
    "i_headline": ("見出し", "みだし", "Headline", "Tiêu đề", "标题", "제목", "Título"),
    "i_grades": ("重大度 / 緊急度 / 確度", "あぶなさ / いそぎ / たしかさ", "Severity / urgency / certainty", "Mức độ / khẩn cấp / chắc chắn", "严重程度 / 紧急程度 / 确定性", "심각도 / 긴급도 / 확실도", "Gravidade / urgência / certeza"),
    "i_effective": ("発効", "はじまり", "Effective", "Có hiệu lực", "生效", "발효", "Vigente desde"),
    "i_onset": ("開始", "はじまる じかん", "Onset", "Bắt đầu", "开始", "시작", "Início"),
    "i_sender": ("発表者", "だした ひと", "Issued by", "Cơ quan ban hành", "发布者", "발표자", "Emitido por"),
    "i_contact": ("問い合わせ", "きく ところ", "Contact", "Liên hệ", "咨询", "문의", "Contato"),
    "i_web": ("関連情報", "ほか の じょうほう", "More information", "Thông tin thêm", "相关信息", "관련 정보", "Mais informações"),
    "i_instruction": ("とるべき行動", "する こと", "What to do", "Việc cần làm", "应采取的行动", "취해야 할 행동", "O que fazer"),
    "list_sep": ("、", "、", ", ", ", ", "、", ", ", ", "),
}
# fmt: on


@cache
def words(lang: str) -> Mapping[str, str]:
    """Every word of the site in ``lang`` (a page language)."""
    column = PAGE_LANGUAGES.index(lang) if lang in PAGE_LANGUAGES else PAGE_LANGUAGES.index(EASY_JA)
    return {key: row[column] for key, row in _ROWS.items()}


def rows() -> Mapping[str, Sequence[str]]:
    return _ROWS


def prefix(lang: str) -> str:
    """Where a language's pages are, relative to the site's root: "" for Japanese, else "<tag>/"."""
    return "" if lang == JA else f"{lang}/"


def place_name(name: str, name_en: str | None, lang: str) -> str:
    """A district or the town as a reader of ``lang`` knows it: Japanese readers get the kanji,
    everyone else the English (romanised) name the town set, else the kanji (the app's rule,
    broadcaster/web/pwa_text.py)."""
    if lang in (JA, EASY_JA) or not name_en:
        return name
    return name_en
