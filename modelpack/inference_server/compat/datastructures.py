"""Small stand-ins for werkzeug's Headers and MultiDict, enough for score.py files."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any


class Headers:
    """An ordered list of (name, value) pairs, looked up without regard to case."""

    def __init__(self, pairs: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        self._pairs: list[tuple[str, str]] = [(str(k), str(v)) for k, v in items]

    def get(self, name: str, default: Any = None, type: Callable[[str], Any] | None = None) -> Any:
        lowered = name.lower()
        for key, value in self._pairs:
            if key.lower() == lowered:
                return type(value) if type else value
        return default

    def getlist(self, name: str) -> list[str]:
        lowered = name.lower()
        return [value for key, value in self._pairs if key.lower() == lowered]

    get_all = getlist

    def add(self, name: str, value: Any) -> None:
        self._pairs.append((name, str(value)))

    add_header = add

    def set(self, name: str, value: Any) -> None:
        self.remove(name)
        self._pairs.append((name, str(value)))

    def remove(self, name: str) -> None:
        lowered = name.lower()
        self._pairs = [(k, v) for k, v in self._pairs if k.lower() != lowered]

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)

    def keys(self) -> list[str]:
        return [key for key, _ in self._pairs]

    def values(self) -> list[str]:
        return [value for _, value in self._pairs]

    def to_wsgi_list(self) -> list[tuple[str, str]]:
        return list(self._pairs)

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __setitem__(self, name: str, value: Any) -> None:
        self.set(name, value)

    def __delitem__(self, name: str) -> None:
        self.remove(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def __repr__(self) -> str:
        return f"Headers({self._pairs!r})"


class MultiDict(Mapping[str, Any]):
    """A mapping whose keys may have several values; plain lookups give the first."""

    def __init__(self, pairs: Iterable[tuple[str, Any]] = ()) -> None:
        self._lists: dict[str, list[Any]] = {}
        for key, value in pairs:
            self._lists.setdefault(key, []).append(value)

    def __getitem__(self, key: str) -> Any:
        return self._lists[key][0]

    def __iter__(self) -> Iterator[str]:
        return iter(self._lists)

    def __len__(self) -> int:
        return len(self._lists)

    def get(self, key: str, default: Any = None, type: Callable[[Any], Any] | None = None) -> Any:
        if key not in self._lists:
            return default
        value = self._lists[key][0]
        if type is None:
            return value
        try:
            return type(value)
        except (ValueError, TypeError):
            return default

    def getlist(self, key: str) -> list[Any]:
        return list(self._lists.get(key, []))

    def items(self, multi: bool = False):  # type: ignore[override]
        if multi:
            return [(key, value) for key, values in self._lists.items() for value in values]
        return [(key, values[0]) for key, values in self._lists.items()]

    def to_dict(self, flat: bool = True) -> dict[str, Any]:
        if flat:
            return {key: values[0] for key, values in self._lists.items()}
        return {key: list(values) for key, values in self._lists.items()}

    def __repr__(self) -> str:
        return f"MultiDict({self.items(multi=True)!r})"
