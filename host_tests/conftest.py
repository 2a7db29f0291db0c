import pytest

from host_tests.netpeers import TcpPeer
from host_tests.radio import join, start
from tools.vmodule import VirtualModule


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: bulk transfers of several seconds (part of the suite; -m 'not slow' leaves them out)")


@pytest.fixture
def state(tmp_path):
    return tmp_path / "state"


@pytest.fixture
def module(state):
    """A freshly booted virtual module with echo on, as after power-up."""
    m = VirtualModule(state).start()
    yield m
    m.stop()


@pytest.fixture
def quiet(module):
    """The same module with echo off and error codes on (AT+SYSLOG=1)."""
    module.ok("ATE0")
    module.buffer = b""
    module.ok("AT+SYSLOG=1")
    return module


@pytest.fixture
def m(tmp_path):
    """A module for the radio tests: unpaced, echo off, error codes on.
    Test files that need another world or options define their own."""
    module = start(tmp_path / "m")
    yield module
    module.stop()


@pytest.fixture
def online(m):
    """The radio tests' module, its station joined to the open AP."""
    join(m, "OpenNet")
    return m


@pytest.fixture
def net(online):
    """An online module and a TCP peer on 127.0.0.1 (the data-plane tests)."""
    peer = TcpPeer()
    yield online, peer
    peer.close()
