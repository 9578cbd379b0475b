import fs from 'node:fs';

/**
 * Who listens on a TCP port of this machine, for a stack that refuses to start over another one:
 * the listening socket's inode from /proc/net/tcp{,6}, then the process holding that inode among its
 * file descriptors. Linux only, and only processes we may inspect (root sees all); else undefined.
 */
export function portHolder(port: number): { pid: number; command: string } | undefined {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return undefined;
  for (const entry of safeReaddir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    for (const fd of safeReaddir(`/proc/${entry}/fd`)) {
      const target = safeReadlink(`/proc/${entry}/fd/${fd}`);
      const inode = /^socket:\[(\d+)\]$/.exec(target ?? '')?.[1];
      if (inode && inodes.has(inode)) return { pid: Number(entry), command: commandOf(entry) };
    }
  }
  return undefined;
}

/** "port 3000 is in use by pid 1234 (node --import tsx src/api.ts)", or without the holder when unknown. */
export function describePortInUse(port: number, what: string): string {
  const holder = portHolder(port);
  const by = holder ? ` by pid ${holder.pid} (${holder.command})` : '';
  return `port ${port} for ${what} is in use${by}: is another stack still running? Stop it (or kill that process) and start again.`;
}

/** Inodes of sockets in state LISTEN (0A) on `port`, any local address. */
function listeningInodes(port: number): Set<string> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (fields.length > 9 && fields[1].endsWith(`:${hexPort}`) && fields[3] === '0A') inodes.add(fields[9]);
    }
  }
  return inodes;
}

function commandOf(pid: string): string {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const text = argv.join(' ');
    return text.length > 120 ? `${text.slice(0, 117)}...` : text;
  } catch {
    return '?';
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function safeReadlink(file: string): string | undefined {
  try {
    return fs.readlinkSync(file);
  } catch {
    return undefined;
  }
}
