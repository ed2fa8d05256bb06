"""One error type for problems the user can fix: the CLI prints it on one line and exits with status 2."""

from __future__ import annotations

import re
from collections.abc import Callable


class UserError(ValueError):
    """Bad input or a missing resource, explained in one line (a ValueError to library callers)."""


class OptionError(UserError):
    """A bad value of one option (or a rule between it and `others`), its line naming them as the API spells them
    (`step_size`); `spelled(spell)` gives the line as another front end names them (`--step-size`): `spell` a name
    for the option, or a function from an option's name to its spelling."""

    def __init__(self, option: str, line: str, others: tuple[str, ...] = ()) -> None:
        super().__init__(line)
        self.option, self.others = option, others

    def spelled(self, spell: str | Callable[[str], str]) -> str:
        name_of = spell if callable(spell) else {self.option: spell}.get
        line = str(self)
        if line.startswith(self.option):
            line = (name_of(self.option) or self.option) + line[len(self.option):]
        for name in (self.option, *self.others) if callable(spell) else ():
            if spelling := name_of(name):
                line = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", spelling, line)
        return line
