// Shapes of the API answers the UI reads (shared/API.md). Optional fields are ones the
// UI shows when the server sends them (e.g. unit_name beside unit_id).

export type Role = 'platform_admin' | 'regulator' | 'merchant'

export interface User {
  id: string
  username: string
  display_name: string
  role: Role
  jurisdiction_id?: string | null
  unit_ids?: string[]
  created_at?: string
  locked?: boolean
  disabled?: boolean
}

export interface LoginAnswer {
  token: string
  expires_at: string
  user: User
  password_expired?: boolean
}

export type JurisdictionLevel = 'province' | 'city' | 'district' | 'station'
export interface Jurisdiction {
  id: string
  parent_id: string | null
  level: JurisdictionLevel
  code: string
  name: string
}

export const STORE_TYPES = [
  'school_canteen',
  'elderly_care',
  'hospital',
  'social_catering',
  'group_catering',
  'central_kitchen',
  'takeaway',
  'other',
] as const
export type StoreType = (typeof STORE_TYPES)[number]

export interface Unit {
  id: string
  name: string
  operator?: string
  phone?: string
  address?: string
  uscc?: string
  licence_number?: string
  filing_number?: string
  store_type?: StoreType | string
  business_format?: string
  jurisdiction_id?: string
  jurisdiction_name?: string
  lng?: number | null
  lat?: number | null
  licence_image_ids?: string[]
  storefront_image_id?: string | null
  disclosure?: { show_alert_stats?: boolean }
  disclosure_token?: string
  open_alerts?: number
  rating?: number | string | null
  created_at?: string
}

export const CAMERA_AREAS = ['rough_processing', 'cooking', 'special_room', 'washing', 'storeroom', 'other'] as const
export interface Camera {
  id: string
  unit_id: string
  unit_name?: string
  name: string
  area: string
  brand?: string
  model?: string
  channel?: number | string
  stream_url?: string
  gb_device_id?: string
  gb_channel_id?: string
  public?: boolean
  ai_enabled?: boolean
  status?: 'online' | 'offline' | string
  last_seen_at?: string | null
  // video (docs/video.md)
  sub_stream_url?: string | null
  rtsp_transport?: 'tcp' | 'udp' | string
  record?: 'continuous' | 'events' | 'off' | string
  retention_days?: number
  video?: CameraVideo | null
}
export interface CameraVideo {
  state?: 'idle' | 'connecting' | 'live' | 'failed' | string
  codec?: string | null
  width?: number | null
  height?: number | null
  fps?: number | null
  bitrate_kbps?: number | null
  last_frame_at?: string | null
  error?: string | null
}

export type CertStatus = 'valid' | 'expiring' | 'expired'
export interface HealthCert {
  number?: string
  issued_on?: string
  expires_on?: string
  image_id?: string | null
}
export interface Staff {
  id: string
  unit_id: string
  unit_name?: string
  name: string
  id_number?: string
  phone?: string
  position?: string
  health_cert?: HealthCert | null
  cert_status?: CertStatus | string
}

export interface HealthCertRow {
  staff_id?: string
  id?: string
  name?: string
  staff_name?: string
  unit_id?: string
  unit_name?: string
  position?: string
  number?: string
  issued_on?: string
  expires_on?: string
  status?: CertStatus | string
  cert_status?: CertStatus | string
  health_cert?: HealthCert
}

export type AlertState = 'open' | 'submitted' | 'closed' | 'dismissed'
export interface Box {
  x: number
  y: number
  w: number
  h: number
  label?: string
  score?: number
}
export type Actor = string | { id?: string | null; name?: string; display_name?: string; username?: string; role?: string } | null
export interface AlertEvent {
  type: string
  at: string
  actor?: Actor
  comment?: string
  text?: string
  photo_ids?: string[]
  reason?: string
}
export interface AlertDocument {
  id?: string
  kind: string
  number: string
  issued_on: string
  file_id?: string | null
  created_at?: string
  created_by?: Actor
}
export interface Rectification {
  id?: string
  text: string
  photo_ids?: string[]
  submitted_at?: string
  at?: string
  actor?: Actor
}
export interface Snapshot {
  file_id?: string
  id?: string
  boxes?: Box[]
  width?: number
  height?: number
  at?: string
}
export interface Alert {
  id: string
  unit_id: string
  unit_name?: string
  camera_id?: string | null
  camera_name?: string
  type: string
  type_name_zh?: string
  type_name_en?: string
  risk_class: number
  state: AlertState
  occurred_at: string
  last_seen_at?: string
  capture_count?: number
  due_at?: string | null
  card?: 'yellow' | 'red' | null
  snapshot_ids?: string[]
  boxes?: Box[]
  snapshots?: Snapshot[]
  confidence?: number
  events?: AlertEvent[]
  documents?: AlertDocument[]
  rectifications?: Rectification[]
  clips?: AlertClip[]
}
/** an evidence clip pinned to an alert; `url` is a signed /media/clips/{token}.mp4 */
export interface AlertClip {
  id: string
  camera_id?: string
  from: string
  to: string
  state?: 'pending' | 'ready' | 'failed' | string
  sm3?: string | null
  bytes?: number | null
  url?: string | null
}

export interface AlertType {
  code: string
  name_zh: string
  name_en: string
  risk_class: number
}

export interface Overview {
  units: number
  units_with_alerts: number
  alerts_total: number
  alerts_per_unit: number
  handled: number
  handling_rate: number
  by_type: Record<string, number>
  by_risk_class: Record<string, number>
  by_day: { date: string; count: number }[]
  top_units: { unit_id: string; name: string; count: number }[]
  cameras_total?: number
  cameras_online?: number
}

export interface AuditEntry {
  id: string
  at: string
  actor: string
  role?: string
  action: string
  target?: string
  source?: string
  result?: string
}

export interface Complaint {
  id: string
  unit_id: string
  unit_name?: string
  text: string
  contact?: string | null
  created_at: string
  state?: string
}

export interface Notification {
  id: string
  alert_id?: string
  title?: string
  body?: string
  text?: string
  type?: string
  risk_class?: number
  unit_name?: string
  created_at?: string
  at?: string
  read?: boolean
  read_at?: string | null
  alert?: Partial<Alert>
}

export interface UiConfig {
  map_tile_url?: string
  map_attribution?: string
}

export interface PublicUnit {
  name: string
  address?: string
  store_type?: string
  business_format?: string
  licence_number?: string
  filing_number?: string
  licence_image_ids?: string[]
  rating?: number | string | null
  public_cameras?: { id: string; name: string; area: string }[]
  alert_stats?: { last_30_days: number; handled: number; handling_rate: number } | null
  staff?: { name_masked: string; position?: string; cert_status?: string; cert_expires_on?: string }[]
}

export const DOCUMENT_KINDS = [
  'rectification_order',
  'penalty_decision',
  'inquiry_notice',
  'supervision_letter',
] as const

/** POST /api/v1/cameras/{id}/live, GET /api/v1/public/units/{token}/cameras/{id}/live */
export interface LiveAnswer {
  hls_url: string
  flv_url?: string | null
  expires_at?: string
  codec?: string | null
  transcoded?: boolean
}
