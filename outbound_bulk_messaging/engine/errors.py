"""Error taxonomy of the engine.

Every error the engine raises is an :class:`OutboundError`. The ORM layer decides what to do with
a message or a job from the class alone, never from the text:

- :class:`TemplateError` and its subclasses: the template is refused when saved, or the one message
  it was rendered for fails.
- :class:`GatewayError` subclasses carry the *scope* of the failure through ``scope``:

  ====================  ==========================================================================
  ``MESSAGE``           only this message failed (refused recipient, invalid or barred number)
  ``JOB``               the provider or server cannot send for this job now (bad credentials,
                        quota, server down): the job is paused with the provider's text, the
                        message that hit it is handled per ``sent``
  ``RETRY``             the provider did not accept the message but asks to slow down (throttled):
                        wait and send the same message again, it was not sent
  ====================  ==========================================================================

  ``sent`` says whether the message may have left: ``False`` (certainly not sent: it can go back to
  the queue), ``None`` (unknown: it must be failed as "outcome unknown", never resent
  automatically).
"""

MESSAGE = "message"
JOB = "job"
RETRY = "retry"


class OutboundError(Exception):
    """Base class of every error raised by the engine."""


# ---- IMPORT


class ImportFormatError(OutboundError):
    """The file as a whole cannot be read with the chosen profile (unknown column, no header)."""


# ---- TEMPLATES


class TemplateError(OutboundError):
    """A template cannot be compiled or rendered.

    ``line`` is the 1-based line of the template source the error points at, when known;
    ``placeholder`` the placeholder at fault, when there is one.
    """

    def __init__(self, message, *, line=None, placeholder=None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.placeholder = placeholder

    def __str__(self):
        return self.message


class TemplateSyntaxError(TemplateError):
    """The template is not valid Jinja2 or uses a forbidden construct."""


class UnknownPlaceholderError(TemplateError):
    """A ``$PLACEHOLDER`` or variable the account data cannot provide."""


class SandboxViolation(TemplateError):
    """The template tried to reach Python internals or to exhaust the server."""


class SmsEncodingError(TemplateError):
    """A text cannot be sent as SMS (forbidden character, too many segments)."""


class SegmentLimitError(SmsEncodingError):
    """The text is sendable but needs more segments than the template allows."""


# ---- GATEWAYS


class GatewayError(OutboundError):
    """A provider or server refused or failed a send.

    :param scope: ``MESSAGE``, ``JOB`` or ``RETRY`` (see the module docstring)
    :param sent: ``False`` when the message certainly did not leave, ``None`` when unknown
    :param code: the provider's or server's code (Vonage status, SMTP reply code, HTTP status)
    """

    scope = MESSAGE

    def __init__(self, message, *, code=None, sent=False, retry_after=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.sent = sent
        self.retry_after = retry_after

    def __str__(self):
        return self.message


class RecipientError(GatewayError):
    """This recipient cannot receive the message (invalid, barred, refused address)."""

    scope = MESSAGE


class OptedOutError(RecipientError):
    """The recipient asked this provider to stop (e.g. replied STOP): never send to them again."""

    scope = MESSAGE


class MessageRejectedError(GatewayError):
    """The provider refused this message's content (too long, invalid parameters)."""

    scope = MESSAGE


class ThrottledError(GatewayError):
    """The provider asks to slow down; the message was not accepted and can be sent again."""

    scope = RETRY


class AccountError(GatewayError):
    """Credentials, quota or account configuration: nothing will go out until fixed."""

    scope = JOB


class ProviderUnavailableError(GatewayError):
    """The provider or server cannot be reached or answers with a server error."""

    scope = JOB


class OutcomeUnknownError(GatewayError):
    """The request may have reached the provider but no answer came back (timeout, drop)."""

    scope = JOB

    def __init__(self, message, **kwargs):
        kwargs.setdefault("sent", None)
        super().__init__(message, **kwargs)
