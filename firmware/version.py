# AT_VERSION is the ESP-AT protocol level this firmware answers to (drivers
# parse it from AT+GMR); BIN_VERSION is this project's own release.
# BUILD_HASH and BUILD_DATE are stamped by tools/deploy; "source" means the
# firmware runs from the source tree (the virtual module).
AT_VERSION = "4.1.1.0"
BIN_VERSION = "0.1.0"
BUILD_HASH = "source"
BUILD_DATE = "Nov 24 2026 00:00:00"
