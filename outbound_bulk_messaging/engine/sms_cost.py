"""What an SMS send will cost before it is sent: every account's own text, counted in segments,
by destination country, times the gateway's price per segment there.

The texts are rendered as the dispatcher will render them (:meth:`CompiledTemplate.render_fast`
joins a placeholders-only template without Jinja) and counted as the provider bills them
(:func:`.sms.count_segments`); a text the job would fail (too many segments, a character no SMS
carries, a template error) is counted apart and costs nothing.
"""

from collections import Counter
from dataclasses import dataclass, field

from .addresses import number_region
from .errors import SegmentLimitError, TemplateError
from .sms import check_segments

__all__ = ["SmsTally", "tally"]


@dataclass
class SmsTally:
    """The texts of a send, counted.

    :ivar segments: region (ISO code, ``None`` when unknown) -> segments of the texts sent there
    :ivar accounts: region -> accounts whose text will be sent
    :ivar over_limit: accounts whose text needs more than the template's maximum of segments
    :ivar failing: accounts whose text cannot be rendered or sent as SMS for another reason
    :ivar first_error: the first of those reasons, to show
    """

    segments: Counter = field(default_factory=Counter)
    accounts: Counter = field(default_factory=Counter)
    over_limit: int = 0
    failing: int = 0
    first_error: str | None = None

    def cost(self, prices):
        """``(total, regions without a price)`` for ``prices``: region -> price per segment."""
        priced = [(count, prices.get(region)) for region, count in self.segments.items()]
        total = sum(count * price for count, price in priced if price is not None)
        missing = [region for region in self.segments if prices.get(region) is None]
        return total, sorted(missing, key=lambda region: region or "")

    def regions(self):
        return set(self.accounts)


def tally(recipients, compiled, max_segments=None):
    """Count the texts of ``recipients``: ``(E.164 number, render context)`` pairs.

    :param compiled: the SMS body's :class:`~.render.CompiledTemplate`
    :param max_segments: the template's maximum (``None``: no maximum)
    """
    result = SmsTally()
    segments, accounts, render = result.segments, result.accounts, compiled.render_fast
    for address, context in recipients:
        try:
            count = check_segments(render(context), max_segments)
        except SegmentLimitError:
            result.over_limit += 1
            continue
        except TemplateError as error:
            result.failing += 1
            result.first_error = result.first_error or str(error)
            continue
        region = number_region(address)
        segments[region] += count
        accounts[region] += 1
    return result
