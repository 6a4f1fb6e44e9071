#!/usr/bin/env node
// Development-only fake of the MingChu API (shared/API.md) with Chinese demo data, so the
// front ends can be built and looked at before the C++ server exists. It also serves
// web/dist like the real server does (/, /m/, /public/units/{token}).
// NEVER used by the tests in tests/e2e: those start the real server.
//
//   node dev/mock-api.mjs [--port 8787] [--dist dist] [--tick 45] [--rtsp rtsp://127.0.0.1:PORT]
// (--rtsp: real video from tests/fixtures/rtsp_camera.py through dev/mock-video.mjs)
import http from 'node:http'
import fs from 'node:fs'
import path from 'node:path'
import crypto from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { createVideo } from './mock-video.mjs'

const args = Object.fromEntries(
  process.argv.slice(2).reduce((a, v, i, all) => (v.startsWith('--') ? [...a, [v.slice(2), all[i + 1]]] : a), []),
)
const PORT = Number(args.port ?? 8787)
const HERE = path.dirname(fileURLToPath(import.meta.url))
const DIST = path.resolve(HERE, '..', args.dist ?? 'dist')
const TICK = Number(args.tick ?? 45)

// ---------- deterministic random ----------
let seed = 20261122
const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff)
const pick = (a) => a[Math.floor(rnd() * a.length)]
const id = (p) => `${p}_${crypto.randomBytes(5).toString('hex')}`
const NOW = () => Date.now()
const iso = (ms) => {
  const d = new Date(ms + 8 * 3600e3)
  return d.toISOString().replace(/\.\d+Z$/, '+08:00')
}
const DAY = 86400e3

// ---------- taxonomy ----------
const TYPES = [
  ['rodent', '老鼠出没', 'Rodent', 1],
  ['animal', '猫、狗等动物', 'Cat or dog', 1],
  ['pest', '蟑螂、苍蝇等有害生物', 'Cockroach or fly', 1],
  ['smoking', '后厨吸烟', 'Smoking in kitchen', 2],
  ['bin_uncovered', '垃圾桶未加盖', 'Uncovered bin', 2],
  ['phone_use', '玩手机', 'Phone use', 2],
  ['no_mask', '未戴口罩', 'No mask', 3],
  ['no_hat', '未戴工作帽', 'No chef hat', 3],
  ['no_uniform', '未穿工作服', 'No uniform', 3],
  ['no_gloves', '未戴手套', 'No gloves', 3],
  ['clutter', '堆放杂物', 'Clutter', 3],
  ['utensil_unclean', '厨具长时间未清洗', 'Unwashed utensils', 3],
  ['camera_offline', '摄像头断电或断网', 'Camera offline', 2],
  ['stranger', '外来人员进入', 'Stranger entered', 2],
  ['sensor_out_of_range', '温湿度等超限', 'Sensor out of range', 2],
].map(([code, name_zh, name_en, risk_class]) => ({ code, name_zh, name_en, risk_class }))
const riskOf = (code) => TYPES.find((t) => t.code === code)?.risk_class ?? 3

// ---------- jurisdictions ----------
const J = []
const addJ = (id, parent_id, level, code, name) => (J.push({ id, parent_id, level, code, name }), id)
addJ('j_js', null, 'province', '320000', '江苏省')
addJ('j_nt', 'j_js', 'city', '320600', '南通市')
const districts = [
  ['j_cc', '320602', '崇川区', 120.866, 32.01, ['城东市场监管所', '和平桥市场监管所', '狼山市场监管所']],
  ['j_tz', '320612', '通州区', 121.075, 32.065, ['金沙市场监管所', '兴仁市场监管所']],
  ['j_hm', '320614', '海门区', 121.18, 31.87, ['海门街道市场监管所', '三厂市场监管所']],
  ['j_rg', '320682', '如皋市', 120.57, 32.37, ['如城市场监管所']],
]
const STATIONS = []
for (const [jid, code, name, lng, lat, sts] of districts) {
  addJ(jid, 'j_nt', 'district', code, name)
  sts.forEach((s, i) => STATIONS.push({ id: addJ(`${jid}_s${i + 1}`, jid, 'station', `${code}0${i + 1}`, s), lng, lat, district: jid }))
}
const subtree = (root) => {
  const out = new Set([root])
  let grew = true
  while (grew) {
    grew = false
    for (const j of J) if (j.parent_id && out.has(j.parent_id) && !out.has(j.id)) out.add(j.id), (grew = true)
  }
  return out
}

// ---------- units ----------
const NAMES = [
  ['崇川区实验小学食堂', 'school_canteen', '学校食堂'],
  ['南通大学附属医院职工餐厅', 'hospital', '单位食堂'],
  ['和平桥社区养老服务中心食堂', 'elderly_care', '单位食堂'],
  ['老南通饭店（南大街店）', 'social_catering', '大型餐馆'],
  ['濠河人家土菜馆', 'social_catering', '中型餐馆'],
  ['江海小笼包子铺', 'social_catering', '小型餐馆'],
  ['通城味道外卖', 'takeaway', '外卖餐饮'],
  ['金沙镇中心幼儿园食堂', 'school_canteen', '学校食堂'],
  ['兴仁中学食堂', 'school_canteen', '学校食堂'],
  ['鑫源集体用餐配送中心', 'group_catering', '集体用餐配送单位'],
  ['海门区中央厨房', 'central_kitchen', '中央厨房'],
  ['三厂羊肉馆', 'social_catering', '中型餐馆'],
  ['东洲小学食堂', 'school_canteen', '学校食堂'],
  ['如皋人民医院食堂', 'hospital', '单位食堂'],
  ['如城颐养院食堂', 'elderly_care', '单位食堂'],
  ['港闸快餐店', 'social_catering', '小餐饮'],
  ['狼山脚下农家菜', 'social_catering', '中型餐馆'],
  ['文峰大世界美食广场', 'social_catering', '大型餐馆'],
  ['通州区第二实验小学食堂', 'school_canteen', '学校食堂'],
  ['叠石桥家纺城员工餐厅', 'social_catering', '单位食堂'],
  ['海门中学食堂', 'school_canteen', '学校食堂'],
  ['蓝印花布面馆', 'social_catering', '小餐饮'],
  ['紫琅湖轻食外卖', 'takeaway', '外卖餐饮'],
  ['城东街道敬老院食堂', 'elderly_care', '单位食堂'],
]
const OPERATORS = ['张建国', '李秀英', '王立新', '陈晓梅', '刘海峰', '周丽华', '吴志强', '徐春燕', '孙宏伟', '朱红梅']
const ROADS = ['人民中路', '工农路', '青年东路', '南大街', '濠河路', '世纪大道', '崇川路', '长江中路', '通甲路', '解放西路']
const UNITS = NAMES.map(([name, store_type, business_format], i) => {
  const st = STATIONS[i % STATIONS.length]
  // the first unit sits in 崇川区/城东 so "merchant" is in district_reg's district
  const station = i === 0 ? STATIONS[0] : st
  return {
    id: `u${String(i + 1).padStart(3, '0')}`,
    name,
    operator: OPERATORS[i % OPERATORS.length],
    phone: `1${pick(['39', '51', '58', '77', '88'])}${String(Math.floor(rnd() * 1e8)).padStart(8, '0')}`,
    address: `江苏省南通市${J.find((j) => j.id === station.district).name}${pick(ROADS)}${Math.floor(rnd() * 300) + 1}号`,
    uscc: `91320602MA${String(i).padStart(2, '0')}XK7N${Math.floor(rnd() * 9)}Q`,
    licence_number: business_format === '小餐饮' ? '' : `JY${'232060200' + String(10000 + i * 37).padStart(5, '0')}`,
    filing_number: business_format === '小餐饮' ? `苏通餐备${2026}${String(i).padStart(4, '0')}` : '',
    store_type,
    business_format,
    jurisdiction_id: station.id,
    lng: +(station.lng + (rnd() - 0.5) * 0.08).toFixed(6),
    lat: +(station.lat + (rnd() - 0.5) * 0.06).toFixed(6),
    licence_image_ids: [],
    storefront_image_id: null,
    disclosure: { show_alert_stats: i % 3 !== 2 },
    disclosure_token: crypto.createHash('sha256').update('unit' + i).digest('hex').slice(0, 24),
    rating: pick(['A', 'A', 'B', 'B', 'C']),
    created_at: iso(NOW() - 200 * DAY),
  }
})
UNITS[5].lng = null
UNITS[5].lat = null
const unitById = (uid) => UNITS.find((u) => u.id === uid)

// ---------- cameras ----------
const AREAS = [
  ['rough_processing', '粗加工区'],
  ['cooking', '烹饪区'],
  ['special_room', '凉菜专间'],
  ['washing', '洗消间'],
  ['storeroom', '库房'],
]
const CAMERAS = []
for (const u of UNITS) {
  const n = 2 + Math.floor(rnd() * 3)
  for (let c = 0; c < n; c++) {
    const [area, an] = AREAS[c % AREAS.length]
    CAMERAS.push({
      id: `c_${u.id}_${c + 1}`,
      unit_id: u.id,
      name: `${an}${c >= AREAS.length ? c : ''}摄像头`,
      area,
      brand: pick(['海康威视', '大华', '宇视']),
      model: pick(['DS-2CD3T46', 'DH-IPC-HFW2433', 'IPC-B314']),
      channel: c + 1,
      stream_url: `rtsp://10.0.${Number(u.id.slice(1))}.${c + 10}:554/Streaming/Channels/101`,
      gb_device_id: `3206020013132${String(Number(u.id.slice(1))).padStart(3, '0')}0001`,
      gb_channel_id: `3206020013131${String(Number(u.id.slice(1))).padStart(3, '0')}000${c + 1}`,
      public: c < 2,
      ai_enabled: true,
      status: rnd() < 0.88 ? 'online' : 'offline',
      last_seen_at: iso(NOW() - Math.floor(rnd() * 3600e3)),
    })
  }
}

// ---------- staff ----------
const SURN = '王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高'
const GIVEN = ['伟', '芳', '娜', '敏', '静', '强', '磊', '洋', '艳', '勇', '军', '杰', '娟', '涛', '明', '超', '秀兰', '建华', '桂英', '志刚']
const POS = ['厨师长', '厨师', '切配', '面点师', '洗消员', '仓管员', '服务员']
const STAFF = []
for (const u of UNITS) {
  const n = 3 + Math.floor(rnd() * 4)
  for (let s = 0; s < n; s++) {
    const exp = NOW() + Math.floor((rnd() * 420 - 60) * DAY)
    STAFF.push({
      id: id('s'),
      unit_id: u.id,
      name: pick([...SURN]) + pick(GIVEN),
      id_number: `32060219${80 + Math.floor(rnd() * 20)}0${1 + Math.floor(rnd() * 9)}1${Math.floor(rnd() * 9)}${String(Math.floor(rnd() * 9999)).padStart(4, '0')}`,
      phone: `13${Math.floor(rnd() * 10)}${String(Math.floor(rnd() * 1e8)).padStart(8, '0')}`,
      position: POS[s % POS.length],
      health_cert: { number: `NT${2025}${String(Math.floor(rnd() * 1e6)).padStart(6, '0')}`, issued_on: iso(exp - 365 * DAY).slice(0, 10), expires_on: iso(exp).slice(0, 10), image_id: null },
    })
  }
}
const certStatus = (s) => {
  const e = s.health_cert?.expires_on
  if (!e) return 'expired'
  const d = (Date.parse(e + 'T23:59:59+08:00') - NOW()) / DAY
  return d < 0 ? 'expired' : d <= 30 ? 'expiring' : 'valid'
}
const maskId = (v) => (v ? v.slice(0, 6) + '********' + v.slice(-4) : v)
const maskPhone = (v) => (v ? v.slice(0, 3) + '****' + v.slice(-4) : v)
const maskName = (n) => ([...n].length <= 2 ? [...n][0] + '*' : [...n][0] + '*'.repeat([...n].length - 2) + [...n].at(-1))

// ---------- files (SVG kitchen snapshots) ----------
const FILES = new Map()
function kitchenSvg(kind, n) {
  const W = 1280
  const H = 720
  const hue = (n * 47) % 360
  const obj =
    kind === 'rodent'
      ? `<g transform="translate(820,560)"><ellipse rx="52" ry="26" fill="#5d4037"/><circle cx="50" cy="-8" r="16" fill="#5d4037"/><circle cx="58" cy="-20" r="7" fill="#795548"/><path d="M-50 0 q-60 10 -90 -20" stroke="#5d4037" stroke-width="5" fill="none"/></g>`
      : kind === 'smoking' || kind === 'phone_use' || kind.startsWith('no_')
        ? `<g transform="translate(560,250)"><circle cx="0" cy="0" r="48" fill="#f1c27d"/><rect x="-70" y="50" width="140" height="240" rx="30" fill="${kind === 'no_uniform' ? '#37474f' : '#eceff1'}"/>${kind === 'no_hat' ? '' : '<rect x="-46" y="-78" width="92" height="40" rx="14" fill="#fff"/>'}${kind === 'smoking' ? '<rect x="30" y="10" width="40" height="6" fill="#fff"/><circle cx="74" cy="13" r="4" fill="#ff7043"/>' : ''}</g>`
        : `<g transform="translate(900,520)"><rect x="-60" y="-90" width="120" height="150" rx="10" fill="#607d8b"/><rect x="-70" y="-100" width="140" height="18" rx="6" fill="${kind === 'bin_uncovered' ? 'none' : '#455a64'}"/></g>`
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">
<defs><linearGradient id="w" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="hsl(${hue},12%,78%)"/><stop offset="1" stop-color="hsl(${hue},10%,62%)"/></linearGradient></defs>
<rect width="${W}" height="${H}" fill="url(#w)"/>
<rect y="470" width="${W}" height="250" fill="hsl(${hue},8%,45%)"/>
<g fill="#cfd8dc" stroke="#90a4ae" stroke-width="3">
<rect x="60" y="330" width="420" height="150" rx="6"/><rect x="80" y="300" width="120" height="30"/><rect x="240" y="290" width="90" height="40"/>
<rect x="1000" y="120" width="220" height="360" rx="6"/><line x1="1110" y1="120" x2="1110" y2="480"/></g>
<g fill="#37474f"><circle cx="140" cy="330" r="34"/><circle cx="300" cy="330" r="34"/><rect x="90" y="90" width="360" height="120" rx="10" fill="#b0bec5"/></g>
${obj}
<rect x="0" y="0" width="${W}" height="42" fill="rgba(0,0,0,.45)"/>
<text x="16" y="29" font-family="monospace" font-size="22" fill="#fff">CAM-${String(n).padStart(2, '0')}  ${new Date(NOW()).toISOString().slice(0, 19).replace('T', ' ')}</text>
</svg>`
}
function addSvg(kind, n) {
  const fid = id('f')
  FILES.set(fid, { type: 'image/svg+xml', body: Buffer.from(kindSvgCache(kind, n)) })
  return fid
}
const svgCache = new Map()
const kindSvgCache = (k, n) => {
  const key = k + (n % 6)
  if (!svgCache.has(key)) svgCache.set(key, kitchenSvg(k, n % 6))
  return svgCache.get(key)
}
const boxFor = (kind) =>
  kind === 'rodent' ? [{ x: 720, y: 520, w: 190, h: 80, label: 'rodent', score: 0.93 }] : kind === 'bin_uncovered' ? [{ x: 820, y: 410, w: 160, h: 180, label: 'bin_uncovered', score: 0.88 }] : [{ x: 470, y: 150, w: 180, h: 410, label: kind, score: 0.86 }]

// ---------- alerts ----------
const ALERTS = []
const NOTIFS = []
function makeAlert(unit, typeCode, occurredMs, state = 'open') {
  const cams = CAMERAS.filter((c) => c.unit_id === unit.id)
  const cam = pick(cams)
  const rc = riskOf(typeCode)
  const snap = addSvg(typeCode, ALERTS.length)
  const a = {
    id: id('a'),
    unit_id: unit.id,
    unit_name: unit.name,
    camera_id: cam.id,
    camera_name: cam.name,
    type: typeCode,
    risk_class: rc,
    state,
    occurred_at: iso(occurredMs),
    last_seen_at: iso(occurredMs + Math.floor(rnd() * 600e3)),
    capture_count: 1 + Math.floor(rnd() * 4),
    due_at: rc <= 2 ? iso(occurredMs + 7 * DAY) : null,
    card: null,
    snapshot_ids: [snap],
    snapshots: [{ file_id: snap, boxes: boxFor(typeCode) }],
    confidence: 0.85 + rnd() * 0.14,
    events: [{ type: 'created', at: iso(occurredMs), actor: 'AI' }, { type: 'notified', at: iso(occurredMs + 2000), actor: 'system' }],
    documents: [],
    rectifications: [],
  }
  if (rc === 1 && state !== 'closed' && state !== 'dismissed') {
    const age = (NOW() - occurredMs) / DAY
    if (age >= 10) a.card = 'red'
    else if (age >= 5) a.card = 'yellow'
    if (a.card === 'yellow' || a.card === 'red') a.events.push({ type: 'card_yellow', at: iso(occurredMs + 5 * DAY), actor: 'system' })
    if (a.card === 'red') a.events.push({ type: 'card_red', at: iso(occurredMs + 10 * DAY), actor: 'system' })
  }
  if (state === 'submitted' || state === 'closed') {
    const at = occurredMs + 1.5 * DAY
    const photo = addSvg('clean', ALERTS.length + 3)
    a.rectifications.push({ id: id('r'), text: '已对后厨进行全面清理消杀，封堵排水口缝隙，并对相关人员开展食品安全培训。', photo_ids: [photo], submitted_at: iso(at), actor: 'merchant' })
    a.events.push({ type: 'rectification_submitted', at: iso(at), actor: '张建国', comment: '已整改' })
  }
  if (state === 'closed') {
    a.events.push({ type: 'approved', at: iso(occurredMs + 2 * DAY), actor: '崇川区监管员', comment: '现场照片符合要求，予以通过。' })
    a.events.push({ type: 'closed', at: iso(occurredMs + 2 * DAY), actor: 'system' })
  }
  if (state === 'dismissed') a.events.push({ type: 'dismissed', at: iso(occurredMs + DAY), actor: '崇川区监管员', comment: '阴影误识别' })
  ALERTS.push(a)
  NOTIFS.push({ id: id('n'), alert_id: a.id, unit_id: unit.id, title: TYPES.find((t) => t.code === typeCode).name_zh, body: `${unit.name} · ${cam.name}`, risk_class: rc, created_at: a.occurred_at, read: state !== 'open' })
  return a
}
const weighted = ['no_mask', 'no_mask', 'no_hat', 'no_hat', 'no_uniform', 'no_gloves', 'clutter', 'bin_uncovered', 'bin_uncovered', 'smoking', 'phone_use', 'rodent', 'pest', 'utensil_unclean', 'camera_offline', 'animal', 'stranger']
for (let i = 0; i < 140; i++) {
  const u = i < 8 ? UNITS[0] : pick(UNITS)
  const t = pick(weighted)
  const occurred = NOW() - Math.floor(rnd() * 30 * DAY)
  const age = (NOW() - occurred) / DAY
  const st = age > 6 ? pick(['closed', 'closed', 'closed', 'dismissed', 'open']) : pick(['open', 'open', 'submitted', 'closed'])
  makeAlert(u, t, occurred, st)
}
makeAlert(UNITS[0], 'rodent', NOW() - 11 * DAY, 'open')
makeAlert(UNITS[0], 'pest', NOW() - 6 * DAY, 'open')
makeAlert(UNITS[0], 'smoking', NOW() - 2 * 3600e3, 'open')
ALERTS.sort((a, b) => b.occurred_at.localeCompare(a.occurred_at))

// ---------- users ----------
const USERS = [
  { id: 'usr_admin', username: 'admin', password: 'Platform@2026!', display_name: '平台管理员', role: 'platform_admin', created_at: iso(NOW() - 300 * DAY) },
  { id: 'usr_city', username: 'city_reg', password: 'Regulator@2026!', display_name: '南通市局 王科长', role: 'regulator', jurisdiction_id: 'j_nt', created_at: iso(NOW() - 200 * DAY) },
  { id: 'usr_dist', username: 'district_reg', password: 'Regulator@2026!', display_name: '崇川分局 李监管员', role: 'regulator', jurisdiction_id: 'j_cc', created_at: iso(NOW() - 200 * DAY) },
  { id: 'usr_odist', username: 'other_district_reg', password: 'Regulator@2026!', display_name: '通州分局 赵监管员', role: 'regulator', jurisdiction_id: 'j_tz', created_at: iso(NOW() - 200 * DAY) },
  { id: 'usr_merch', username: 'merchant', password: 'Kitchen@2026!', display_name: '张建国（实验小学食堂）', role: 'merchant', unit_ids: ['u001'], created_at: iso(NOW() - 100 * DAY) },
  { id: 'usr_expired', username: 'expired', password: 'Expired@2026!', display_name: '密码过期测试', role: 'regulator', jurisdiction_id: 'j_cc', password_expired: true, created_at: iso(NOW() - 100 * DAY) },
]
const SESSIONS = new Map()
const FAILS = new Map()
const AUDIT = []
const COMPLAINTS = [
  { id: id('cp'), unit_id: 'u004', unit_name: UNITS[3].name, text: '在大厅看到后厨有人不戴口罩操作凉菜，希望监管部门检查。', contact: '139****5521', created_at: iso(NOW() - 2 * DAY), state: 'new' },
  { id: id('cp'), unit_id: 'u001', unit_name: UNITS[0].name, text: '孩子反映食堂饭菜偏凉，请关注留样与保温情况。', contact: null, created_at: iso(NOW() - 5 * DAY), state: 'handling' },
  { id: id('cp'), unit_id: 'u006', unit_name: UNITS[5].name, text: '店门口垃圾桶长期不盖，苍蝇很多。', contact: '151****0032', created_at: iso(NOW() - 9 * DAY), state: 'closed' },
]
const PUBLIC_RATE = new Map()
function audit(user, action, target, result = 'ok', source = '127.0.0.1') {
  AUDIT.unshift({ id: id('au'), at: iso(NOW()), actor: user?.username ?? 'anonymous', role: user?.role ?? '', action, target, source, result })
}
for (let i = 0; i < 40; i++) {
  const u = pick(USERS.slice(0, 5))
  AUDIT.push({ id: id('au'), at: iso(NOW() - i * 3 * 3600e3), actor: u.username, role: u.role, action: pick(['auth.login', 'alert.review', 'unit.update', 'staff.create', 'alert.dismiss', 'file.upload']), target: pick(['alert/' + ALERTS[i].id, 'unit/u00' + (1 + (i % 9))]), source: `10.20.${i % 5}.${10 + i}`, result: i % 11 === 5 ? 'denied' : 'ok' })
}

// ---------- scope ----------
function unitsInScope(user, jurisdiction_id) {
  let list = UNITS
  if (user.role === 'regulator') {
    const sub = subtree(user.jurisdiction_id)
    list = list.filter((u) => sub.has(u.jurisdiction_id))
  } else if (user.role === 'merchant') list = list.filter((u) => (user.unit_ids ?? []).includes(u.id))
  if (jurisdiction_id) {
    const sub = subtree(jurisdiction_id)
    list = list.filter((u) => sub.has(u.jurisdiction_id))
  }
  return list
}
const inScope = (user, unit_id) => unitsInScope(user).some((u) => u.id === unit_id)
const openCount = (uid) => ALERTS.filter((a) => a.unit_id === uid && (a.state === 'open' || a.state === 'submitted')).length

// ---------- SSE ----------
const STREAMS = new Set()
function push(event, alert) {
  for (const s of STREAMS) {
    if (!inScope(s.user, alert.unit_id)) continue
    s.res.write(`event: ${event}\ndata: ${JSON.stringify(alert)}\n\n`)
  }
}

// ---------- http helpers ----------
const send = (res, status, body, headers = {}) => {
  const data = body === undefined ? '' : JSON.stringify(body)
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'X-Server-Time': new Date().toISOString(), ...headers })
  res.end(data)
}
const err = (res, status, code, message) => send(res, status, { error: { code, message } })
const listOf = (res, items, q) => {
  const page = Math.max(1, Number(q.get('page') ?? 1))
  const size = Math.min(200, Math.max(1, Number(q.get('page_size') ?? 20)))
  send(res, 200, { items: items.slice((page - 1) * size, page * size), total: items.length, page, page_size: size })
}
const readBody = (req) =>
  new Promise((resolve) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks)))
  })
const json = async (req) => {
  try {
    return JSON.parse((await readBody(req)).toString('utf8') || '{}')
  } catch {
    return null
  }
}
const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png', '.woff2': 'font/woff2', '.json': 'application/json' }
function serveStatic(res, file) {
  if (!file.startsWith(DIST) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) return false
  res.writeHead(200, { 'Content-Type': MIME[path.extname(file)] ?? 'application/octet-stream' })
  fs.createReadStream(file).pipe(res)
  return true
}
function qrSvg(text) {
  const h = crypto.createHash('sha256').update(text).digest()
  const N = 25
  let cells = ''
  for (let y = 0; y < N; y++)
    for (let x = 0; x < N; x++) {
      const finder = (x < 7 && y < 7) || (x >= N - 7 && y < 7) || (x < 7 && y >= N - 7)
      const on = finder ? x % 6 === 0 || y % 6 === 0 || (x % 6 >= 2 && x % 6 <= 4 && y % 6 >= 2 && y % 6 <= 4) || x === N - 1 || x === N - 7 || y === N - 7 || y === N - 1 : (h[(x * 7 + y * 13) % 32] >> (x + y) % 8) & 1
      if (on) cells += `<rect x="${x + 2}" y="${y + 2}" width="1" height="1"/>`
    }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="290" height="290" viewBox="0 0 ${N + 4} ${N + 4}" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#fff"/><g fill="#000">${cells}</g></svg>`
}

function stats(user, q) {
  const units = unitsInScope(user, q.get('jurisdiction_id'))
  const ids = new Set(units.map((u) => u.id))
  const from = q.get('from') ? Date.parse(q.get('from')) : 0
  const to = q.get('to') ? Date.parse(q.get('to')) : Infinity
  const al = ALERTS.filter((a) => ids.has(a.unit_id) && Date.parse(a.occurred_at) >= from && Date.parse(a.occurred_at) <= to)
  const handled = al.filter((a) => a.state === 'closed' || a.state === 'dismissed').length
  const by_type = {}
  const by_risk_class = { 1: 0, 2: 0, 3: 0 }
  const byDay = {}
  const byUnit = {}
  for (const a of al) {
    by_type[a.type] = (by_type[a.type] ?? 0) + 1
    by_risk_class[a.risk_class]++
    const d = a.occurred_at.slice(0, 10)
    byDay[d] = (byDay[d] ?? 0) + 1
    byUnit[a.unit_id] = (byUnit[a.unit_id] ?? 0) + 1
  }
  const cams = CAMERAS.filter((c) => ids.has(c.unit_id))
  const withAlerts = Object.keys(byUnit).length
  return {
    units: units.length,
    units_with_alerts: withAlerts,
    alerts_total: al.length,
    alerts_per_unit: units.length ? +(al.length / units.length).toFixed(2) : 0,
    handled,
    handling_rate: al.length ? +(handled / al.length).toFixed(4) : 0,
    by_type,
    by_risk_class,
    by_day: Object.entries(byDay)
      .sort()
      .map(([date, count]) => ({ date, count })),
    top_units: Object.entries(byUnit)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([unit_id, count]) => ({ unit_id, name: unitById(unit_id).name, count })),
    cameras_total: cams.length,
    cameras_online: cams.filter((c) => c.status === 'online').length,
  }
}

const unitOut = (u) => ({ ...u, open_alerts: openCount(u.id), jurisdiction_name: J.find((j) => j.id === u.jurisdiction_id)?.name })
const staffOut = (s, user) => ({ ...s, unit_name: unitById(s.unit_id)?.name, id_number: maskId(s.id_number), phone: user.role === 'platform_admin' ? s.phone : maskPhone(s.phone), cert_status: certStatus(s) })
const alertSummary = ({ events, documents, rectifications, ...a }) => a

const video = createVideo({ rtsp: args.rtsp, send, err, iso, cameras: CAMERAS })

// ---------- router ----------
const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x')
  const p = url.pathname
  const q = url.searchParams
  const m = (re) => p.match(re)
  try {
    if (p === '/healthz') return send(res, 200, { status: 'ok' })
    if (p.startsWith('/media/') && video.media(req, res, p)) return
    let pm
    if ((pm = p.match(/^\/api\/v1\/public\/units\/([^/]+)\/cameras\/([^/]+)\/live$/))) return video.publicLive(res, UNITS.find((x) => x.disclosure_token === pm[1]), pm[2])

    // public disclosure page: HTML for browsers, JSON for the page's own fetch
    let mm
    if ((mm = m(/^\/public\/units\/([^/]+)$/)) && req.method === 'GET') {
      const u = UNITS.find((x) => x.disclosure_token === mm[1])
      if (!(req.headers.accept ?? '').includes('application/json')) return serveStatic(res, path.join(DIST, 'public/index.html')) || err(res, 404, 'not_found', 'no build')
      if (!u) return err(res, 404, 'not_found', '未找到')
      const al = ALERTS.filter((a) => a.unit_id === u.id && Date.parse(a.occurred_at) > NOW() - 30 * DAY)
      const handled = al.filter((a) => a.state === 'closed' || a.state === 'dismissed').length
      return send(res, 200, {
        name: u.name,
        address: u.address,
        store_type: u.store_type,
        business_format: u.business_format,
        licence_number: u.licence_number,
        filing_number: u.filing_number,
        licence_image_ids: u.licence_image_ids,
        rating: u.rating,
        public_cameras: CAMERAS.filter((c) => c.unit_id === u.id && c.public).map(({ id, name, area }) => ({ id, name, area })),
        alert_stats: u.disclosure.show_alert_stats ? { last_30_days: al.length, handled, handling_rate: al.length ? handled / al.length : 1 } : undefined,
        staff: STAFF.filter((s) => s.unit_id === u.id).map((s) => ({ name_masked: maskName(s.name), position: s.position, cert_status: certStatus(s), cert_expires_on: s.health_cert.expires_on })),
      })
    }
    if ((mm = m(/^\/public\/units\/([^/]+)\/complaints$/)) && req.method === 'POST') {
      const u = UNITS.find((x) => x.disclosure_token === mm[1])
      if (!u) return err(res, 404, 'not_found', '未找到')
      const k = req.socket.remoteAddress
      const hits = (PUBLIC_RATE.get(k) ?? []).filter((t) => t > NOW() - 60e3)
      if (hits.length >= 3) return err(res, 429, 'rate_limited', 'too many')
      PUBLIC_RATE.set(k, [...hits, NOW()])
      const b = await json(req)
      if (!b?.text || b.text.length < 5) return err(res, 422, 'invalid_text', '投诉内容至少 5 个字')
      const c = { id: id('cp'), unit_id: u.id, unit_name: u.name, text: b.text, contact: b.contact ?? null, created_at: iso(NOW()), state: 'new' }
      COMPLAINTS.unshift(c)
      return send(res, 201, c)
    }

    if (p.startsWith('/api/')) {
      if (p === '/api/v1/auth/login' && req.method === 'POST') {
        const b = await json(req)
        const u = USERS.find((x) => x.username === b?.username)
        const f = FAILS.get(b?.username) ?? 0
        if (f >= 5) return err(res, 423, 'locked', '账号已锁定')
        if (!u || u.password !== b.password) {
          FAILS.set(b?.username, f + 1)
          audit(u, 'auth.login', 'user/' + (b?.username ?? ''), 'failed')
          return err(res, 401, 'invalid_credentials', '用户名或密码错误')
        }
        FAILS.delete(u.username)
        const token = crypto.randomBytes(24).toString('hex')
        SESSIONS.set(token, u.id)
        audit(u, 'auth.login', 'user/' + u.username)
        const { password, password_expired, ...user } = u
        return send(res, 200, { token, expires_at: iso(NOW() + 8 * 3600e3), user, password_expired: !!password_expired })
      }
      if (p === '/api/v1/ingest/alerts' && req.method === 'POST') {
        const b = await json(req)
        const u = unitById(b?.unit_id) ?? UNITS[0]
        const a = makeAlert(u, b?.type ?? 'rodent', b?.occurred_at ? Date.parse(b.occurred_at) : NOW())
        ALERTS.sort((x, y) => y.occurred_at.localeCompare(x.occurred_at))
        push('alert.created', alertSummary(a))
        return send(res, 202, { alert_id: a.id, merged: false })
      }
      const tok = (req.headers.authorization ?? '').replace(/^Bearer /, '') || q.get('access_token')
      const user = USERS.find((x) => x.id === SESSIONS.get(tok))
      if (!user) return err(res, 401, 'unauthorized', '请先登录')

      if (p === '/api/v1/stream') {
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' })
        res.write(': hello\n\n')
        const s = { res, user }
        STREAMS.add(s)
        const ka = setInterval(() => res.write(': ka\n\n'), 15000)
        req.on('close', () => (STREAMS.delete(s), clearInterval(ka)))
        return
      }
      if (p === '/api/v1/auth/logout') return (SESSIONS.delete(tok), res.writeHead(204), res.end())
      if (p === '/api/v1/me') {
        const { password, password_expired, ...me } = user
        return send(res, 200, me)
      }
      if (p === '/api/v1/auth/password' && req.method === 'POST') {
        const b = await json(req)
        if (b?.old_password !== user.password) return err(res, 422, 'wrong_password', '原密码不正确')
        if (!/^(?=.*[a-z])(?=.*[A-Z])(?=.*\d)(?=.*[^A-Za-z0-9]).{8,}$/.test(b?.new_password ?? '')) return err(res, 422, 'password_policy', 'weak')
        user.password = b.new_password
        delete user.password_expired
        return (res.writeHead(204), res.end())
      }
      if (p === '/api/v1/config/ui') return send(res, 200, args.tiles ? { map_tile_url: args.tiles, map_attribution: 'tiles' } : {})
      if (p === '/api/v1/alert-types') return send(res, 200, { items: TYPES, total: TYPES.length, page: 1, page_size: 200 })
      if (p === '/api/v1/jurisdictions') {
        let list = J
        if (user.role === 'regulator') {
          const sub = subtree(user.jurisdiction_id)
          list = J.filter((j) => sub.has(j.id))
        } else if (user.role === 'merchant') list = []
        return listOf(res, list, q)
      }
      if (p === '/api/v1/users' && req.method === 'GET') return listOf(res, USERS.map(({ password, ...u }) => u), q)
      if (p === '/api/v1/users' && req.method === 'POST') {
        const b = await json(req)
        if (USERS.some((u) => u.username === b.username)) return err(res, 409, 'conflict', '用户名已存在')
        const u = { id: id('usr'), ...b, created_at: iso(NOW()) }
        USERS.push(u)
        const { password, ...out } = u
        return send(res, 201, out)
      }
      if (p === '/api/v1/api-keys' && req.method === 'POST') return send(res, 201, { id: id('key'), key: crypto.randomBytes(20).toString('hex') })
      if (p === '/api/v1/stats/overview') return send(res, 200, stats(user, q))

      if (p === '/api/v1/units' && req.method === 'GET') {
        let list = unitsInScope(user, q.get('jurisdiction_id'))
        if (q.get('q')) list = list.filter((u) => u.name.includes(q.get('q')) || u.address.includes(q.get('q')) || u.uscc.includes(q.get('q')))
        if (q.get('store_type')) list = list.filter((u) => u.store_type === q.get('store_type'))
        if (q.get('business_format')) list = list.filter((u) => u.business_format.includes(q.get('business_format')))
        return listOf(res, list.map(unitOut), q)
      }
      if (p === '/api/v1/units' && req.method === 'POST') {
        const b = await json(req)
        if (b.uscc && !/^[0-9A-Z]{18}$/.test(b.uscc)) return err(res, 422, 'invalid_uscc', '统一社会信用代码校验位错误')
        const u = { ...b, id: id('u'), disclosure_token: crypto.randomBytes(12).toString('hex'), created_at: iso(NOW()) }
        UNITS.push(u)
        return send(res, 201, unitOut(u))
      }
      if ((mm = m(/^\/api\/v1\/units\/([^/]+)\/qrcode\.png$/))) {
        const u = unitById(mm[1])
        if (!u || !inScope(user, u.id)) return err(res, 404, 'not_found', '未找到')
        res.writeHead(200, { 'Content-Type': 'image/svg+xml' })
        return res.end(qrSvg('/public/units/' + u.disclosure_token))
      }
      if ((mm = m(/^\/api\/v1\/units\/([^/]+)$/))) {
        const u = unitById(mm[1])
        if (!u || !inScope(user, u.id)) return err(res, 404, 'not_found', '未找到该单位')
        if (req.method === 'PATCH') Object.assign(u, await json(req))
        return send(res, 200, unitOut(u))
      }
      if (p === '/api/v1/cameras' && req.method === 'GET') {
        const ids = new Set(unitsInScope(user, q.get('jurisdiction_id')).map((u) => u.id))
        let list = CAMERAS.filter((c) => ids.has(c.unit_id))
        if (q.get('unit_id')) list = list.filter((c) => c.unit_id === q.get('unit_id'))
        if (q.get('status')) list = list.filter((c) => c.status === q.get('status'))
        return listOf(res, list.map((c) => ({ ...c, unit_name: unitById(c.unit_id).name })), q)
      }
      if (p === '/api/v1/cameras' && req.method === 'POST') {
        const c = { ...(await json(req)), id: id('c'), status: 'offline', last_seen_at: null }
        CAMERAS.push(c)
        return send(res, 201, c)
      }
      if ((mm = m(/^\/api\/v1\/cameras\/([^/]+)\/(live|snapshot\.jpg|recordings|playback|clip\.mp4)$/))) {
        const c = CAMERAS.find((x) => x.id === mm[1])
        if (!c || !inScope(user, c.unit_id)) return err(res, 404, 'not_found', '未找到')
        return video.cameraRoute(req, res, c, mm[2], q, req.method === 'POST' ? await json(req) : null)
      }
      if ((mm = m(/^\/api\/v1\/cameras\/([^/]+)$/))) {
        const i = CAMERAS.findIndex((c) => c.id === mm[1])
        if (i < 0) return err(res, 404, 'not_found', '未找到')
        if (req.method === 'DELETE') return (CAMERAS.splice(i, 1), res.writeHead(204), res.end())
        if (req.method === 'PATCH') Object.assign(CAMERAS[i], await json(req))
        return send(res, 200, CAMERAS[i])
      }
      if (p === '/api/v1/staff' && req.method === 'GET') {
        const ids = new Set(unitsInScope(user, q.get('jurisdiction_id')).map((u) => u.id))
        let list = STAFF.filter((s) => ids.has(s.unit_id))
        if (q.get('unit_id')) list = list.filter((s) => s.unit_id === q.get('unit_id'))
        if (q.get('q')) list = list.filter((s) => s.name.includes(q.get('q')))
        if (q.get('cert_status')) list = list.filter((s) => certStatus(s) === q.get('cert_status'))
        return listOf(res, list.map((s) => staffOut(s, user)), q)
      }
      if (p === '/api/v1/staff' && req.method === 'POST') {
        const s = { ...(await json(req)), id: id('s') }
        STAFF.push(s)
        return send(res, 201, staffOut(s, user))
      }
      if ((mm = m(/^\/api\/v1\/staff\/([^/]+)$/))) {
        const i = STAFF.findIndex((s) => s.id === mm[1])
        if (i < 0 || !inScope(user, STAFF[i].unit_id)) return err(res, 404, 'not_found', '未找到')
        if (req.method === 'DELETE') return (STAFF.splice(i, 1), res.writeHead(204), res.end())
        if (req.method === 'PATCH') {
          const b = await json(req)
          Object.assign(STAFF[i], b, b.health_cert ? { health_cert: { ...STAFF[i].health_cert, ...b.health_cert } } : {})
        }
        return send(res, 200, staffOut(STAFF[i], user))
      }
      if (p === '/api/v1/health-certs') {
        const ids = new Set(unitsInScope(user, q.get('jurisdiction_id')).map((u) => u.id))
        const list = STAFF.filter((s) => ids.has(s.unit_id) && (!q.get('status') || certStatus(s) === q.get('status')))
          .sort((a, b) => a.health_cert.expires_on.localeCompare(b.health_cert.expires_on))
          .map((s) => ({ staff_id: s.id, name: s.name, unit_id: s.unit_id, unit_name: unitById(s.unit_id).name, position: s.position, ...s.health_cert, status: certStatus(s) }))
        return listOf(res, list, q)
      }
      if (p === '/api/v1/files' && req.method === 'POST') {
        const body = await readBody(req)
        const ct = req.headers['content-type'] ?? ''
        const bnd = ct.split('boundary=')[1]
        let data = body
        let type = 'image/jpeg'
        if (bnd) {
          const s = body.toString('latin1')
          const start = s.indexOf('\r\n\r\n') + 4
          const end = s.lastIndexOf('\r\n--' + bnd)
          const head = s.slice(0, start)
          type = (head.match(/Content-Type: ([^\r\n]+)/i) ?? [])[1] ?? type
          data = body.subarray(start, end)
        }
        if (data.length > 10 * 1024 * 1024) return err(res, 413, 'too_large', 'too large')
        const fid = id('f')
        FILES.set(fid, { type, body: data })
        return send(res, 201, { id: fid, sha256: crypto.createHash('sha256').update(data).digest('hex'), size: data.length, content_type: type })
      }
      if ((mm = m(/^\/api\/v1\/files\/([^/]+)$/))) {
        const f = FILES.get(mm[1])
        if (!f) return err(res, 404, 'not_found', '未找到')
        res.writeHead(200, { 'Content-Type': f.type, 'Cache-Control': 'private, max-age=3600' })
        return res.end(f.body)
      }
      if (p === '/api/v1/alerts') {
        const ids = new Set(unitsInScope(user, q.get('jurisdiction_id')).map((u) => u.id))
        let list = ALERTS.filter((a) => ids.has(a.unit_id))
        for (const k of ['unit_id', 'camera_id', 'type', 'state', 'card']) if (q.get(k)) list = list.filter((a) => String(a[k]) === q.get(k))
        if (q.get('risk_class')) list = list.filter((a) => a.risk_class === Number(q.get('risk_class')))
        if (q.get('from')) list = list.filter((a) => Date.parse(a.occurred_at) >= Date.parse(q.get('from')))
        if (q.get('to')) list = list.filter((a) => Date.parse(a.occurred_at) <= Date.parse(q.get('to')))
        return listOf(res, list.map(alertSummary), q)
      }
      if ((mm = m(/^\/api\/v1\/alerts\/([^/]+)(?:\/(\w+))?$/))) {
        const a = ALERTS.find((x) => x.id === mm[1])
        if (!a || !inScope(user, a.unit_id)) return err(res, 404, 'not_found', '未找到该预警')
        const action = mm[2]
        if (!action) return send(res, 200, { ...a, clips: video.clipsFor(a) })
        const b = (await json(req)) ?? {}
        const actor = user.display_name
        if (action === 'rectifications') {
          if (a.state !== 'open') return err(res, 409, 'invalid_state', 'state')
          a.rectifications.push({ id: id('r'), text: b.text, photo_ids: b.photo_ids, submitted_at: iso(NOW()), actor })
          a.events.push({ type: 'rectification_submitted', at: iso(NOW()), actor, comment: b.text })
          a.state = 'submitted'
        } else if (action === 'review') {
          if (a.state !== 'submitted') return err(res, 409, 'invalid_state', 'state')
          a.events.push({ type: b.decision === 'approve' ? 'approved' : 'rejected', at: iso(NOW()), actor, comment: b.comment })
          a.state = b.decision === 'approve' ? 'closed' : 'open'
          if (a.state === 'closed') a.events.push({ type: 'closed', at: iso(NOW()), actor: 'system' })
        } else if (action === 'dismiss') {
          a.events.push({ type: 'dismissed', at: iso(NOW()), actor, comment: b.reason })
          a.state = 'dismissed'
        } else if (action === 'documents') {
          if (!b.number) return err(res, 422, 'invalid_number', '文书编号不能为空')
          a.documents.push({ id: id('d'), ...b, created_at: iso(NOW()), created_by: actor })
          a.events.push({ type: 'document_issued', at: iso(NOW()), actor, comment: b.number })
        } else return err(res, 404, 'not_found', 'no such action')
        audit(user, 'alert.' + action, 'alert/' + a.id)
        push('alert.updated', alertSummary(a))
        return send(res, 200, a)
      }
      if (p === '/api/v1/notifications') {
        const ids = new Set(unitsInScope(user).map((u) => u.id))
        return listOf(res, NOTIFS.filter((n) => ids.has(n.unit_id)).sort((a, b) => b.created_at.localeCompare(a.created_at)), q)
      }
      if (p === '/api/v1/audit') {
        let list = AUDIT
        if (q.get('actor')) list = list.filter((a) => a.actor.includes(q.get('actor')))
        if (q.get('action')) list = list.filter((a) => a.action.includes(q.get('action')))
        return listOf(res, list, q)
      }
      if (p === '/api/v1/complaints') {
        const ids = new Set(unitsInScope(user, q.get('jurisdiction_id')).map((u) => u.id))
        return listOf(res, COMPLAINTS.filter((c) => ids.has(c.unit_id)), q)
      }
      return err(res, 404, 'not_found', 'no such endpoint')
    }

    // static files: /, /m/, /assets/...
    let file = path.join(DIST, decodeURIComponent(p))
    if (p === '/' || p === '') file = path.join(DIST, 'index.html')
    else if (p === '/m' || p === '/m/') file = path.join(DIST, 'm/index.html')
    if (serveStatic(res, file)) return
    res.writeHead(404, { 'Content-Type': 'text/plain' })
    res.end('not found')
  } catch (e) {
    console.error(e)
    err(res, 500, 'internal', 'internal error')
  }
})

if (TICK > 0) {
  setInterval(() => {
    const a = makeAlert(pick(UNITS.slice(0, 6)), pick(weighted), NOW())
    ALERTS.sort((x, y) => y.occurred_at.localeCompare(x.occurred_at))
    push('alert.created', alertSummary(a))
  }, TICK * 1000)
}

server.listen(PORT, '127.0.0.1', () => {
  console.log(`mock MingChu API on http://127.0.0.1:${PORT}  (dist: ${DIST})`)
  console.log(`public page e.g. http://127.0.0.1:${PORT}/public/units/${UNITS[0].disclosure_token}`)
})
