"""The confirmation dialog of an irreversible action, as a user meets it in a browser."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect


def confirmation_dialog(page: Page) -> Locator:
    """The open confirmation dialog (a modal <dialog> named by its heading)."""
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("aria-labelledby", "confirmation-titre")
    return dialog


def confirm_in_dialog(page: Page) -> None:
    """« Je confirme » in the confirmation dialog that the last click opened."""
    dialog = confirmation_dialog(page)
    dialog.get_by_role("button", name=re.compile(r"^Je confirme")).click()
