"""What the dossiers domain tells the domains built on it.

The dossiers domain does not know who cares that a dossier or its pieces changed; the
service-fait check runner subscribes to these signals (`portal.service_fait.runner`) and
re-runs the automatic checks in the same transaction. Senders flush first, so that a
receiver reads what was just written.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: Dossiers were created: they hold no piece, request or decision yet. Sent with
#: ``dossiers`` (the new, flushed `Dossier` objects, their OF loaded).
dossiers_created = _signals.signal("dossiers-created")

#: Dossiers' terms changed. Sent with ``dossier_ids`` (a list of ids).
dossiers_changed = _signals.signal("dossiers-changed")

#: Pieces were added to, or replaced in, a dossier. The sender is the dossier; sent with
#: ``pieces`` (the new pieces and the versions they replace).
pieces_changed = _signals.signal("pieces-changed")
