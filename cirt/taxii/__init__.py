"""TAXII 2.1: exchange with partners (``client``), the gate over TAXII (``release``), our API
root's resources (``collections``), requests as values (``query``) and credentials (``auth``).
The HTTP server is ``cirt.servers.taxii``."""
