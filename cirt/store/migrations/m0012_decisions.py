"""Decision tasks: a task may ask a question (yes / no / not applicable) and an item waiting
for it may start only on one answer ("report to the police if OT is affected")."""

STATEMENTS = [
    "ALTER TABLE due_items ADD COLUMN decision INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE due_items ADD COLUMN answer TEXT",
    "ALTER TABLE due_items ADD COLUMN start_on TEXT",
]
