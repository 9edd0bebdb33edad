/** A device as the account page names it: browser and operating system, from a User-Agent string. */
export interface DeviceName {
  /** e.g. `Chrome 126`, `Firefox 127`, `Safari 17`, or `Unknown browser`. */
  readonly browser: string;
  /** e.g. `Windows`, `macOS`, `iOS`, `Android 14`, `Linux`, or `Unknown system`. */
  readonly os: string;
}

const browsers: ReadonlyArray<readonly [string, RegExp]> = [
  // Order matters: Edge, Opera and Samsung Internet also say "Chrome"; Chrome also says "Safari".
  ['Edge', /\bEdg(?:e|A|iOS)?\/(\d+)/],
  ['Opera', /\b(?:OPR|Opera)\/(\d+)/],
  ['Samsung Internet', /\bSamsungBrowser\/(\d+)/],
  ['Firefox', /\b(?:Firefox|FxiOS)\/(\d+)/],
  ['Chrome', /\b(?:HeadlessChrome|Chrome|CriOS)\/(\d+)/],
  ['Safari', /\bVersion\/(\d+)[.\d]* (?:Mobile\/\S+ )?Safari\//],
  ['curl', /^curl\/(\d+)/],
  ['Node.js', /^node(?:-fetch)?\b/],
];

const systems: ReadonlyArray<readonly [string, RegExp]> = [
  ['Android', /\bAndroid (\d+)/],
  ['iOS', /\b(?:iPhone|iPad|iPod)\b.*? OS (\d+)/],
  ['Windows', /\bWindows NT\b/],
  ['ChromeOS', /\bCrOS\b/],
  ['macOS', /\bMac OS X\b/],
  ['Linux', /\bLinux\b/],
];

/** Names the browser and system of a User-Agent string; never throws. */
export function describeUserAgent(userAgent: string | null | undefined): DeviceName {
  const ua = userAgent ?? '';
  let browser = 'Unknown browser';
  for (const [name, re] of browsers) {
    const m = re.exec(ua);
    if (m) {
      browser = m[1] ? `${name} ${m[1]}` : name;
      break;
    }
  }
  let os = 'Unknown system';
  for (const [name, re] of systems) {
    const m = re.exec(ua);
    if (m) {
      os = m[1] ? `${name} ${m[1]}` : name;
      break;
    }
  }
  return { browser, os };
}
