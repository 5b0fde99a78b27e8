"""E-circulars (電子回覧板) for district leaders: the board, links, replies, reminders, escalation.

docs/circulars.md tells the whole story; in short:

* ``board``: the circular channel's worker-side "provider" — it records each circular and its
  per-leader deliveries idempotently by the dispatch key, then has the notifier send every
  leader their own signed link on their own channels (LINE, app push, e-mail);
* ``chain``: reminders, the deputy and the duty officers when a leader has not confirmed,
  driven by one persisted scheduler job per circular;
* ``store`` and ``report``: the ledger side (tables in store/tables.py) and the dashboard's
  figures; ``links``, ``forms``, ``attachments`` and ``notice`` are pure.
"""
