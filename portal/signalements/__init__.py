"""Signalements to the ministry.

- `workflow`: the state machine, pure (who may do what, from which state);
- `rules`: when a signalement is substantiated (*étayé*), pure;
- `services`: writing the draft, the transitions, the thread (every change, audited);
- `evidence`: what the dossiers offer as evidence, and the uploaded files;
- `notices`: the notices in the portal and the mails to the other side;
- `inbox`: the lists (the ministry's inbox, the funder's list, an OF's page), the exports;
- `pack`: the transmission pack for the certifier (through `portal.packs`);
- `demo`: the demo certifiers of `flask demo seed`.
The RNQ reference data is `portal.rnq`.
"""
