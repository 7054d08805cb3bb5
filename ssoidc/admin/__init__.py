"""The configuration plane's domain: edits of the stored ``Configuration`` shared by the admin API and the file.

``editor`` runs every change as an optimistic, idempotent compare-and-swap on the configuration version;
``rules`` holds the invariants every configuration must keep (whichever front door changed it); ``instance``,
``applications``, ``issuers`` and ``directory`` are the pure operations; ``paging`` is keyset pagination.
No AWS wire names live here: ``ssoidc.aws.sso_admin`` and ``ssoidc.aws.identitystore`` translate.
"""
