// A short two-tone alarm made with WebAudio (no audio files shipped).
let ctx: AudioContext | null = null

export function beep(riskClass = 2): void {
  try {
    const AC = window.AudioContext ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext
    if (!AC) return
    ctx ??= new AC()
    const now = ctx.currentTime
    const tones = riskClass === 1 ? [880, 660, 880] : [660, 880]
    tones.forEach((f, i) => {
      const osc = ctx!.createOscillator()
      const gain = ctx!.createGain()
      osc.type = 'sine'
      osc.frequency.value = f
      const t0 = now + i * 0.18
      gain.gain.setValueAtTime(0.0001, t0)
      gain.gain.exponentialRampToValueAtTime(0.25, t0 + 0.02)
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.16)
      osc.connect(gain).connect(ctx!.destination)
      osc.start(t0)
      osc.stop(t0 + 0.17)
    })
  } catch {
    /* sound is optional */
  }
}
