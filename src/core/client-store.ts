/** A resource-server client kept in the store: never its secret, only SHA-256 of it. */
export interface StoredClient {
  /** 1-64 of `A-Z a-z 0-9 . _ ~ -`. */
  readonly id: string;
  /** SHA-256 of the secret, base64url (43 characters). */
  readonly secretHash: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
}

/**
 * Durable storage of the clients made with `tokenstile clients create` (besides those in
 * `TOKENSTILE_CLIENTS`). Ids are unique: of concurrent adds of one id, exactly one succeeds.
 */
export interface ClientStore {
  /** Every stored client, oldest first. */
  listClients(): Promise<StoredClient[]>;
  /** Adds `client`; false, writing nothing, when its id is taken. */
  addClient(client: StoredClient): Promise<boolean>;
  /** Removes client `id`; false when there was none. */
  removeClient(id: string): Promise<boolean>;
}
