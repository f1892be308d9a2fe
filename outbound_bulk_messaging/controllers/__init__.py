from . import main, unsubscribe
