"""Helpers of the test suite (no fixtures: those are in the ``conftest.py`` files).

* ``config``: the e2e configuration, its names, the bootstrap admin credential, the repository root;
* ``servers``: live ``ssoidc serve`` subprocesses (``LiveServer``) and fixture factories for a module's own;
* ``clients``: boto3 client factories, concurrent identical requests, SigV4-signed raw requests;
* ``pg``: the test PostgreSQL server, isolated schemas, one-off connections (shared with ``bench/``);
* ``pgbouncer``: PgBouncer in transaction-pooling mode in front of it;
* ``cluster``: several nodes on one PostgreSQL schema;
* ``storage``: the storage contract suite's ``Backend``;
* ``inprocess``: driving a node's services (``ssoidc.compose.Services``) without HTTP;
* ``browser``: Chromium, viewports, passwords and ``Tab`` for the Playwright tests.
"""
