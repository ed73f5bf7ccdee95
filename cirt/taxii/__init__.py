"""TAXII 2.1: exchange with partners (``client``) and our own server (``server``, ``serving``)."""
