// A stand-in for an operator's SMS/voice gateway: accepts POSTs on 127.0.0.1, answers 200
// with a message id, and keeps every request (headers and parsed JSON body) for the test to
// inspect. Requests repeated with the same Idempotency-Key are recorded, and counted once
// in uniqueMessages().
import http from 'node:http'

export class FakeSmsGateway {
  constructor() {
    this.received = []
    this.server = null
    this.port = 0
  }

  start() {
    this.server = http.createServer((req, res) => {
      const chunks = []
      req.on('data', (c) => chunks.push(c))
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let json = null
        try {
          json = JSON.parse(text)
        } catch {
          json = null
        }
        this.received.push({ method: req.method, url: req.url, headers: req.headers, text, json })
        res.writeHead(200, { 'Content-Type': 'application/json' })
        res.end(JSON.stringify({ code: 0, message_id: `sms-${this.received.length}` }))
      })
    })
    return new Promise((resolve) => {
      this.server.listen(0, '127.0.0.1', () => {
        this.port = this.server.address().port
        resolve(this)
      })
    })
  }

  url(p = '/sms/send') {
    return `http://127.0.0.1:${this.port}${p}`
  }

  uniqueMessages() {
    const byKey = new Map()
    for (const r of this.received) byKey.set(r.headers['idempotency-key'], r)
    return [...byKey.values()]
  }

  stop() {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }
}
