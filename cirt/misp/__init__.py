"""MISP's formats and transport, below the services that use them.

* ``to_misp``: STIX objects the gate released become a MISP event (core, no I/O);
* ``to_stix``: MISP events become STIX objects (core, no I/O; ``cirt.ingest`` reads MISP files
  with it);
* ``feed``: a MISP feed directory on disk, read and written (adapter);
* ``connection``: a partner's MISP endpoint, key and bounded HTTP client (adapter).

The exchange itself (events for a recipient through the gate, export, feeds, push and pull) is
the service ``cirt.misp_exchange``; nothing in this package imports a service, so the service and
``cirt.ingest`` may both import it.
"""
