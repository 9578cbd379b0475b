export interface PostgresEndpoint {
  host: string;
  port: number;
  user: string;
  password?: string;
}

/** host, port, user and password of a postgres:// URL (its database is ignored). */
export function postgresEndpoint(url: string): PostgresEndpoint {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username || 'postgres'),
    password: u.password ? decodeURIComponent(u.password) : undefined,
  };
}
