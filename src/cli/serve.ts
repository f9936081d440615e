// `gue serve`: serves the browser page (web/, built into dist/web) and a generator as /model.onnx on localhost.
// The page protects photos inside the browser with onnxruntime-web; nothing is uploaded (the server accepts
// only GET/HEAD, and the page's Content-Security-Policy allows connections to this origin only).
import type { Command } from './main.js';
import { UsageError } from './args.js';
import { checkBuilt, startServer } from '../serve/server.js';
import { resolveServedModel } from '../serve/model.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export const serveCommand: Command = {
  spec: {
    name: 'serve',
    summary: 'serve the browser page that protects photos locally (onnxruntime-web; nothing is uploaded)',
    usage: 'gue serve [--generator <file.onnx|generator|run-dir>] [--port 8080] [--host 127.0.0.1]',
    flags: {
      generator: { type: 'string', description: 'exported .onnx, a generator from `gue train`, its run folder, or the name of a shipped one (default: fmnist-28x28-w16)' },
      port: { type: 'int', description: 'TCP port (0 picks a free one)', default: 8080, min: 0, max: 65535 },
      host: { type: 'string', description: 'address to listen on; anything but localhost exposes the page to the network', default: '127.0.0.1' },
    },
  },
  async run({ flags, out }) {
    const host = flags.host as string;
    if (host.trim() === '') throw new UsageError('--host must not be empty');
    checkBuilt();
    const model = await resolveServedModel(flags.generator as string | undefined);
    const srv = await startServer({ model, host, port: flags.port as number });
    if (!LOOPBACK.has(host)) {
      out.sink({ type: 'log', level: 'warn', message: `listening on ${host}: other machines on the network can open the page (photos are still protected locally in each browser, never uploaded)` });
    }
    const eps255 = Math.round(model.info.eps * 255 * 100) / 100;
    out.result(
      { url: srv.url, host: srv.host, port: srv.port, generator: model.source, eps: model.info.eps, channels: model.info.channels },
      `gue serve: open ${srv.url} to protect photos in your browser (generator ${model.source}, ε = ${eps255}/255, ${model.info.channels === 1 ? 'gray' : 'RGB'}).\nNothing is uploaded: the page protects photos locally. Press Ctrl-C to stop.`,
    );
    await new Promise<void>((resolveStop) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        void srv.close().then(resolveStop);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    return 0;
  },
};
