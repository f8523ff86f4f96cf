// An https front for a plain-HTTP server, streaming both ways, as a TLS
// terminating proxy would: argv is the certificate, its key, the port to
// listen on and the port to forward to. Prints "listening" when ready.
import https from 'node:https';
import http from 'node:http';
import fs from 'node:fs';

const [cert, key, port, target] = process.argv.slice(2);
const server = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => {
  const upstream = http.request({ host: '127.0.0.1', port: Number(target), method: req.method, path: req.url,
                                  headers: req.headers }, (answer) => {
    res.writeHead(answer.statusCode, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', () => { res.writeHead(502); res.end(); });
  req.pipe(upstream);
});
server.listen(Number(port), '127.0.0.1', () => console.log('listening'));
