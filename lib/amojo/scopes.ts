/**
 * Which amojo scope each account's channel is connected under (docs/amojo-protocol.md#ids): the
 * port, and AmojoChannel — the account-level side of the client that keeps it. connect() stores
 * the scope_id amojo returned (never one built by hand); disconnect() marks it; scopeOf() is what
 * every chat call addresses. The DynamoDB adapter is lib/store/amojo-scopes.ts.
 *
 * Reconnect after reinstall: turning the integration off disconnects the channel at amojo, and
 * connecting again gives the same scope (docs/amojo-protocol.md#endpoints). So `withScope` answers a
 * 404 from amojo for a stored, connected scope by connecting once more and trying the call once
 * again — safe even for a message: a 404 means it did not land.
 */
import type { AmojoClient } from './client.ts';
import { AmojoNotConnectedError, AmojoNotFoundError } from './errors.ts';

export interface ChatScope {
  /** Our account id (config `accounts[].id`). */
  account: string;
  channelId: string;
  /** The account's amojo id. */
  amojoId: string;
  scopeId: string;
  title: string;
  state: 'connected' | 'disconnected';
  /** Epoch ms of the last connect. */
  connectedAt: number;
  /** Epoch ms of the last disconnect, when disconnected. */
  disconnectedAt?: number;
}

export interface ScopeStore {
  get(account: string): Promise<ChatScope | undefined>;
  /** The account a scope belongs to (callbacks name the scope only). */
  byScopeId(scopeId: string): Promise<ChatScope | undefined>;
  put(scope: ChatScope): Promise<void>;
}

export interface AmojoChannelOptions {
  client: AmojoClient;
  store: ScopeStore;
  now?: () => number;
  /** Told of each automatic reconnect (a log line, a metric). */
  onReconnect?: (account: string, scopeId: string) => void;
}

export class AmojoChannel {
  private readonly now: () => number;
  constructor(private readonly opts: AmojoChannelOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Connects the channel for an account and stores the scope amojo returned. */
  async connect(account: string, amojoId: string, title?: string): Promise<ChatScope> {
    const r = await this.opts.client.connect(amojoId, title);
    const scope: ChatScope = {
      account,
      channelId: this.opts.client.channelId,
      amojoId: r.amojoId,
      scopeId: r.scopeId,
      title: r.title,
      state: 'connected',
      connectedAt: this.now(),
    };
    await this.opts.store.put(scope);
    return scope;
  }

  /** Disconnects the account's channel (when one was ever connected) and marks the stored scope. */
  async disconnect(account: string, amojoId?: string): Promise<ChatScope | undefined> {
    const stored = await this.opts.store.get(account);
    const id = amojoId ?? stored?.amojoId;
    if (id === undefined) return undefined;
    await this.opts.client.disconnect(id);
    if (!stored) return undefined;
    const scope: ChatScope = { ...stored, state: 'disconnected', disconnectedAt: this.now() };
    await this.opts.store.put(scope);
    return scope;
  }

  status(account: string): Promise<ChatScope | undefined> {
    return this.opts.store.get(account);
  }

  /** The connected scope of an account; AmojoNotConnectedError when there is none. */
  async scopeOf(account: string): Promise<ChatScope> {
    const s = await this.opts.store.get(account);
    if (!s || s.state !== 'connected' || s.channelId !== this.opts.client.channelId) throw new AmojoNotConnectedError(account);
    return s;
  }

  /** Runs a chat call under the account's scope; one reconnect (and one more try) after a 404. */
  async withScope<T>(account: string, call: (scopeId: string) => Promise<T>): Promise<T> {
    const s = await this.scopeOf(account);
    try {
      return await call(s.scopeId);
    } catch (e) {
      if (!(e instanceof AmojoNotFoundError)) throw e;
      const again = await this.connect(account, s.amojoId, s.title || undefined);
      this.opts.onReconnect?.(account, again.scopeId);
      return call(again.scopeId);
    }
  }
}
