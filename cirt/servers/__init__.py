"""The long-running servers: entry points above the composition root, like the CLI.  Each opens
a ``cirt.workspace.Workspace`` per serving thread and answers with its services."""
