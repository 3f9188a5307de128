// The headless Chromium the explorer tests drive: @sparticuz/chromium's binary (it arrives with
// `npm install`), launched through playwright-core, without the background traffic a fresh profile
// would start.
import chromium from '@sparticuz/chromium'
import { chromium as playwright, type Browser } from 'playwright-core'

export async function launchChromium(): Promise<Browser> {
  return playwright.launch({
    executablePath: await chromium.executablePath(),
    args: [...chromium.args, '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    headless: true,
  })
}
