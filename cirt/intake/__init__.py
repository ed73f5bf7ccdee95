"""Intake: reports from citizens (the web form) and organisations (e-mail), and their triage.

A report is kept apart from the STIX store, in its own tables, because it holds personal data
(the reporter) and unchecked claims: nothing of it is released to anyone.  Only when an analyst
accepts it does it become (or join) an incident, whose facts then leave through the gate like
any other; candidate indicators found in it go through the one ingest door (``cirt.ingest``) and
so through routing.  The reporter's details never reach STIX.

- ``reports``   what a report is, the categories a citizen can choose, text neutralisation (pure)
- ``extract``   candidate indicators in free text, defanged spellings understood (pure)
- ``files``     attachment limits and type sniffing (pure)
- ``desk``      ``ws.intake``: submit, status by token, list, accept, reject (over the store)
- ``mail``      .eml, mbox and IMAP mailboxes

The reporting form (a WSGI app under gunicorn, ``cirt intake serve``) is an entry point above the
composition root: ``cirt.servers.intake_form`` and ``cirt.servers.intake_serving``.
"""
