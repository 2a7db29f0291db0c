"""The virtual module's flash: created on first start of a state folder."""


def prepare(state):
    """Create the simulated flash in the state folder if it is missing."""
