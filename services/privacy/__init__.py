"""Privacy (issue 9): the sealed personal part, the key store, crypto-shredding and retention (gallring).

* `crypto` — AES-256-GCM sealing of a payload's personal fields, event id as associated data;
* `keystore` — one random key per person pseudonym (or stream), in its own database;
* `sealing` — the `EventStore` wrapper the composition root puts around every store it opens;
* `personal` — reading a person's personal fields back (`casestream person show`);
* `policy`, `retention` — retention policies from YAML, the dry run and the shredding;
* `cli` — the commands `person show` and `gallring`.

Design and reasons: docs/privacy.md.
"""
