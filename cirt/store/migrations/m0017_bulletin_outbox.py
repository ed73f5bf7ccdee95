"""The bulletin outbox: one row per message to one contact, written (and synced) before it is
sent, so a crash or a dropped SMTP session never makes a contact receive a bulletin twice nor
leaves anyone unsent without a trace.

``content_key`` is the SHA-256 of the gate's recipient and the released object versions: the same
content for the same contact is one row, whatever the run.  ``message`` holds the exact bytes, so
a resend is the same message with the same Message-ID.
"""

STATEMENTS = [
    """CREATE TABLE bulletin_outbox (
        message_id TEXT PRIMARY KEY,
        contact TEXT NOT NULL,
        organisation TEXT NOT NULL,
        recipient TEXT NOT NULL,
        content_key TEXT NOT NULL,
        number TEXT NOT NULL,
        tlp INTEGER NOT NULL,
        state TEXT NOT NULL,
        detail TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        queued TEXT NOT NULL,
        updated TEXT NOT NULL,
        message {blob} NOT NULL
    )""",
    "CREATE UNIQUE INDEX bulletin_outbox_content ON bulletin_outbox (contact, content_key)",
    "CREATE INDEX bulletin_outbox_state ON bulletin_outbox (organisation, state)",
]
