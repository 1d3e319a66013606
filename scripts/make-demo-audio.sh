#!/usr/bin/env bash
# Regenerates the demo's committed prompts in crates/api/demo-audio/ (run by hand when the text
# changes; the demo itself needs no TTS): the greeting spoken by Open JTalk with the HTS voice
# "Mei" (CC BY 3.0, see crates/api/demo-audio/README.md), and the music on hold made with sox.
# Both 8 kHz 16-bit mono, the format Tsunagu plays.
# Usage: scripts/make-demo-audio.sh [PATH/TO/mei_normal.htsvoice]
#   Without a path the voice is taken from the pyopenjtalk 0.4.1 source package on PyPI
#   (`pip download` prepares its metadata, which builds numpy: give a path to skip that).
set -euo pipefail
cd "$(dirname "$0")/.."
out=crates/api/demo-audio
need=()
command -v open_jtalk >/dev/null || need+=(open-jtalk)
[ -d /var/lib/mecab/dic/open-jtalk/naist-jdic ] || need+=(open-jtalk-mecab-naist-jdic)
command -v sox >/dev/null || need+=(sox)
if [ ${#need[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
work=$(mktemp -d /tmp/tsunagu-demo-audio.XXXXXX)
trap 'rm -rf "$work"' EXIT
voice=${1:-}
if [ -z "$voice" ]; then
    pip download --no-deps --no-binary :all: -d "$work" pyopenjtalk==0.4.1
    tar -xzf "$work"/pyopenjtalk-0.4.1.tar.gz -C "$work" pyopenjtalk-0.4.1/pyopenjtalk/htsvoice
    voice="$work/pyopenjtalk-0.4.1/pyopenjtalk/htsvoice/mei_normal.htsvoice"
fi
echo "voice: $voice ($(sha256sum "$voice" | cut -d' ' -f1))"

# The greeting: Open JTalk speaks at 48 kHz; sox trims the silence at both ends and resamples.
open_jtalk -x /var/lib/mecab/dic/open-jtalk/naist-jdic -m "$voice" -ow "$work/greeting-48k.wav" \
    "$out/greeting.txt"
sox "$work/greeting-48k.wav" -r 8000 -c 1 -b 16 "$out/greeting.wav" \
    silence 1 0.02 0.3% reverse silence 1 0.02 0.3% reverse

# Music on hold: a gentle arpeggio, each note faded at both ends so that the loop is seamless.
notes=()
i=0
for note in C4 E4 G4 C5 G4 E4 D4 F4 A4 D5 A4 F4; do
    f="$work/n$(printf %02d $i).wav"
    sox -n -r 8000 -c 1 -b 16 "$f" synth 0.4 pluck "$note" vol 0.5 fade 0 0.4 0.05
    notes+=("$f")
    i=$((i + 1))
done
sox "${notes[@]}" "$out/hold.wav"
soxi -D "$out/greeting.wav" "$out/hold.wav"
