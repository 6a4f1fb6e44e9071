// Risk-class colours used everywhere: class 1 red, class 2 orange, class 3 blue.
export const RISK_COLORS: Record<number, string> = { 1: '#e53935', 2: '#fb8c00', 3: '#1e88e5' }
export const riskColor = (c: number | string | undefined) => RISK_COLORS[Number(c)] ?? '#909399'
export const CARD_COLORS = { yellow: '#f5c518', red: '#d32f2f' } as const

/** Marker colour for a unit by its open alerts. */
export function unitLoadColor(open: number | undefined): string {
  const n = open ?? 0
  if (n <= 0) return '#43a047'
  if (n <= 2) return '#fb8c00'
  return '#e53935'
}
