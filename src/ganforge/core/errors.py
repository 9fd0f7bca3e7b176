"""The library's own exception types: a user mistake is one of these, with a message that
says what is wrong and what to do. The CLI prints the message on one line and exits non-zero."""


class GanforgeError(Exception):
    """Base class of every error a user can cause and fix."""


class ConfigError(GanforgeError):
    """Bad or unknown configuration: an unknown name, a wrong type, a value out of range."""


class DataError(GanforgeError):
    """Input data that is corrupt, malformed or unusable."""


class MissingDataError(GanforgeError):
    """Data that is not where it should be and cannot be fetched (offline, not mirrored)."""


class CredentialsError(GanforgeError):
    """Credentials a data source needs are missing or rejected."""


def unknown_name(kind: str, name: str, known: list[str] | tuple[str, ...]) -> ConfigError:
    """A ConfigError for a name that is not registered, listing the known ones."""
    listing = ", ".join(sorted(known)) or "(none)"
    plural = f"{kind}es" if kind.endswith("s") else f"{kind}s"
    return ConfigError(f"unknown {kind} {name!r}; known {plural}: {listing}")
