// How numbers and times read on the page: exact counts with separators, money to the micro-unit, times
// in the chosen time zone.

const counts = new Intl.NumberFormat('en-US');

/** A count such as 12,345: exactly the API's integer. */
export function count(value) {
  return counts.format(value);
}

/** Micro-units of a currency, exact (up to six decimals, at least two). */
export function money(micros, currency) {
  const options = { minimumFractionDigits: 2, maximumFractionDigits: 6 };
  if (currency) {
    return new Intl.NumberFormat('en-US', { ...options, style: 'currency', currency }).format(micros / 1e6);
  }
  return new Intl.NumberFormat('en-US', options).format(micros / 1e6);
}

/** A share such as 12.5%, or a dash when there is nothing to divide. */
export function share(part, whole) {
  return whole > 0 ? `${(100 * part / whole).toFixed(1)}%` : '–';
}

const formatters = new Map();

function formatter(timeZone, style) {
  const id = `${timeZone}|${style}`;
  if (!formatters.has(id)) {
    const options = {
      time: { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' },
      seconds: { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' },
      hour: { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' },
      day: { weekday: 'short', month: 'short', day: 'numeric' },
      full: { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZoneName: 'short' },
    }[style];
    formatters.set(id, new Intl.DateTimeFormat('en-GB', { ...options, timeZone }));
  }
  return formatters.get(id);
}

/** An instant (ms or RFC 3339) read in a time zone, in one of the styles above. */
export function time(instant, timeZone, style = 'time') {
  return formatter(timeZone, style).format(new Date(instant));
}

/** A duration in seconds as "4 s", "3 min 5 s" or "2 h 10 min". */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** RFC 3339 with Z, to the millisecond, as the API reads it. */
export function iso(ms) {
  return new Date(ms).toISOString();
}
