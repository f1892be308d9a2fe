from . import main, report, unsubscribe
