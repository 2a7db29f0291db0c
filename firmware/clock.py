# Wall-clock time from the RTC as a Unix timestamp, the same on the chip
# (whose epoch is 2000) and on the unix port, independent of any time zone.
# The RTC holds UTC: AT+SYSTIMESTAMP sets it, and so does every SNTP
# synchronisation (firmware.sntp), to the microsecond; local time (AT+CIPSNTPCFG's
# time zone) is only applied when it is shown.
import machine


def _days_from_civil(y, m, d):
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _civil_from_days(z):
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, d


def now():
    """Seconds since 1970-01-01 UTC."""
    y, m, d, _, hh, mm, ss, _ = machine.RTC().datetime()
    return _days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss


def set_unix(seconds, usec=0):
    """Set the RTC to seconds (and usec) since 1970-01-01 UTC."""
    days, rest = divmod(seconds, 86400)
    y, m, d = _civil_from_days(days)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    machine.RTC().datetime((y, m, d, weekday, rest // 3600, rest // 60 % 60, rest % 60, usec))


def gmtime(seconds):
    """(year, month, day, hour, minute, second, weekday Monday=0)."""
    days, rest = divmod(seconds, 86400)
    y, m, d = _civil_from_days(days)
    return y, m, d, rest // 3600, rest // 60 % 60, rest % 60, (days + 3) % 7
