// A minimal forward proxy for tests: it serves only CONNECT, tunnels each one to its target and
// records the targets, so a test can count the connections that went through it. With `tls`,
// clients reach it over TLS (an https:// proxy-url).
import { connect, createServer as createTcpServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";

export interface ConnectProxy {
  url: string;
  /** "host:port" of every tunnel opened, in order. */
  tunnels: string[];
  /** Cut: every open tunnel is reset and new connections are refused, until restored. */
  setCut(cut: boolean): void;
  close(): Promise<void>;
}

export async function startConnectProxy(options: { tls?: { cert: string; key: string } } = {}): Promise<ConnectProxy> {
  const tunnels: string[] = [];
  const sockets = new Set<Socket>();
  let cut = false;
  const handle = (client: Socket) => {
    if (cut) {
      client.destroy();
      return;
    }
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => client.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      client.off("data", onData);
      const match = /^CONNECT (\S+):(\d+) HTTP\/1\.[01]$/.exec(head.subarray(0, end).toString("latin1").split("\r\n")[0]!);
      if (!match) {
        client.end("HTTP/1.1 405 Method Not Allowed\r\nConnection: close\r\n\r\n");
        return;
      }
      const [, host, port] = match;
      tunnels.push(`${host}:${port}`);
      const upstream = connect(Number(port), host!.replace(/^\[|\]$/g, ""), () => {
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        const rest = head.subarray(end + 4);
        if (rest.length > 0) upstream.write(rest);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      sockets.add(upstream);
      upstream.on("close", () => sockets.delete(upstream));
      upstream.on("error", () => client.destroy());
      client.on("close", () => upstream.destroy());
    };
    client.on("data", onData);
  };
  const server: Server = options.tls ? createTlsServer(options.tls, handle) : createTcpServer(handle);
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as { port: number };
  return {
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${port}`,
    tunnels,
    setCut(on) {
      cut = on;
      if (on) for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
}
