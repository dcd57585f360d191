"""Exceptions users see. The CLI turns ``GbaError`` into one line and exit status 2."""


class GbaError(Exception):
    """Base class for errors caused by input or configuration, not by a bug."""


class PluginError(GbaError):
    """A plugin failed to load or broke the plugin contract (e.g. a duplicate name)."""


class ConfigError(GbaError):
    """A bad option, spec, path or configuration value."""


class SettingError(ConfigError):
    """A settings class refusing one of its own values: which field, and why.
    ``config.load_settings`` names the setting key it was read from."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class LLMError(GbaError):
    """An LLM call failed after the backend's retries."""


class LLMUnavailableError(LLMError):
    """The backend cannot be reached at all (connection refused, unknown host)."""


class InvalidOutputError(LLMError):
    """The model's output does not parse or does not validate against the schema."""

    def __init__(self, message: str, content: str = "") -> None:
        super().__init__(message)
        self.content = content
