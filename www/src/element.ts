// <ssl-playground>: the playground as one tag in a course page, with no iframe.
//
//   <script type="module" src="/ssl-playground/ssl-playground.js"></script>
//   <ssl-playground method="rotnet" steps="300" autostart></ssl-playground>
//
// Attributes are the link's settings under the same names (urlconfig.ts), read when the
// element joins the page. It is compact (the embed=1 layout) unless it says embed="0". Each
// element draws into its own shadow root, so the host page's styles and ids never meet ours,
// and trains in its own worker: several on one page train side by side, each at its own pace.
// The script must come from the same origin as the page (browsers only start same-origin
// workers); its folder is the site, where the data packs and the full page are.
import uplotCss from 'uplot/dist/uPlot.min.css?inline';
import appCss from './style.css?inline';
import markup from './markup.html?raw';
import { mountPlayground, type DebugState, type Playground } from './app';
import { searchFromAttributes } from './urlconfig';

/** This script's address (held in a variable, so that Vite does not take it for an asset URL). */
const SCRIPT_URL = import.meta.url;
/** The site's folder: this script's (in the build it sits beside index.html and data/). */
const SITE = new URL(import.meta.env.DEV ? '/' : '.', SCRIPT_URL).href;

/** One stylesheet, shared by every element on the page. */
let sheet: CSSStyleSheet | null = null;

export class SslPlaygroundElement extends HTMLElement {
  private playground: Playground | null = null;

  /** The run's state, as the page's `__sslp` (for tests and the console); null before it joins a page. */
  get debug(): DebugState | null {
    return this.playground?.debug ?? null;
  }

  connectedCallback() {
    if (this.playground) return; // moved within the page: the run goes on
    if (!sheet) {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(`${uplotCss}\n${appCss}`);
    }
    const shadow = this.shadowRoot ?? this.attachShadow({ mode: 'open' });
    shadow.adoptedStyleSheets = [sheet];
    shadow.innerHTML = `<div class="sslp">${markup}</div>`;
    const { search, unknown } = searchFromAttributes(this.attributes);
    this.playground = mountPlayground(shadow, {
      search,
      frame: shadow.firstElementChild as HTMLElement,
      assetBase: SITE,
      linkFor: (query) => new URL(query, SITE).href,
      problems: unknown.map((name) => `the attribute ${name} is not a setting (the settings are the link's: method, dataset, backbone, steps, batch, lr, p.<name>, autostart…)`),
    });
  }

  disconnectedCallback() {
    // Moving an element disconnects and reconnects it in one task: stop only if it stays out.
    queueMicrotask(() => {
      if (this.isConnected || !this.playground) return;
      this.playground.destroy();
      this.playground = null;
    });
  }
}

if (!customElements.get('ssl-playground')) customElements.define('ssl-playground', SslPlaygroundElement);
