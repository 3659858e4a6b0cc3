import type { Engine } from '@drover/engine';
import { SiteLink } from './site-link.js';
import type { SiteLinkOptions } from './site-link.js';

export interface SiteLinksOptions extends Omit<SiteLinkOptions, 'onError'> {
  /** How often a server looks for sites whose link it should run. @defaultValue 1,000 */
  takeOverMs?: number;
  onError: (error: unknown, where: string) => void;
}

/**
 * The site links this server runs. Each site is linked from one server of the farm at a time:
 * the one recorded in its row, or, once that one has left the farm's servers (stopped, or swept
 * as dead by its peers), the first to take it over.
 */
export class SiteLinks {
  readonly #engine: Engine;
  readonly #serverId: string;
  readonly #options: SiteLinksOptions;
  readonly #links = new Map<string, SiteLink>();
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<void> | undefined;
  #closed = false;

  constructor(engine: Engine, serverId: string, options: SiteLinksOptions) {
    this.#engine = engine;
    this.#serverId = serverId;
    this.#options = options;
  }

  start(): void {
    this.#timer = setInterval(() => this.refresh(), this.#options.takeOverMs ?? 1000);
    this.refresh();
  }

  /** Takes up the links this server should run now, and wakes them (a site job changed). */
  refresh(): void {
    if (this.#closed || this.#pass) {
      for (const link of this.#links.values()) link.poke();
      return;
    }
    this.#pass = this.#take()
      .catch((error: unknown) => this.#options.onError(error, 'taking up site links'))
      .finally(() => {
        this.#pass = undefined;
      });
  }

  async #take(): Promise<void> {
    const targets = await this.#engine.sites.linksFor(this.#serverId);
    const wanted = new Map(targets.map((t) => [t.name, t]));
    for (const [name, link] of this.#links) {
      const target = wanted.get(name);
      // Removed, taken over, or added again under the same name with another address or token.
      if (!target || target.url !== link.site.url || target.token !== link.site.token) {
        this.#links.delete(name);
        await link.close();
      }
    }
    for (const target of targets) {
      if (this.#closed || this.#links.has(target.name)) continue;
      const link = new SiteLink(this.#engine, target, {
        ...this.#options,
        onError: this.#options.onError,
      });
      this.#links.set(target.name, link);
      await link.start();
    }
    for (const link of this.#links.values()) link.poke();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#pass;
    const links = [...this.#links.values()];
    this.#links.clear();
    await Promise.all(links.map((link) => link.close()));
    try {
      await this.#engine.sites.releaseLinks(this.#serverId);
    } catch (error) {
      this.#options.onError(error, 'giving up site links');
    }
  }
}
