#!/usr/bin/env bash
# Regenerates the fixed prompts Tsunagu itself speaks, committed in crates/telephony/prompts/
# (run by hand when a text changes; building and running need no TTS). Japanese with Open
# JTalk and the HTS voice "Mei" (CC BY 3.0, see crates/telephony/prompts/README.md), English
# with espeak-ng, the beep with sox. All 8 kHz 16-bit mono WAV, the format Tsunagu plays.
# Usage: scripts/make-prompts.sh [PATH/TO/mei_normal.htsvoice]
#   Without a path the voice is taken from the pyopenjtalk 0.4.1 source package on PyPI,
#   checked against its published SHA-256.
set -euo pipefail
cd "$(dirname "$0")/.."
out=crates/telephony/prompts
need=()
command -v open_jtalk >/dev/null || need+=(open-jtalk)
[ -d /var/lib/mecab/dic/open-jtalk/naist-jdic ] || need+=(open-jtalk-mecab-naist-jdic)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v sox >/dev/null || need+=(sox)
if [ ${#need[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
work=$(mktemp -d /tmp/tsunagu-prompts.XXXXXX)
trap 'rm -rf "$work"' EXIT
voice=${1:-}
if [ -z "$voice" ]; then
    sdist=https://files.pythonhosted.org/packages/58/74/ccd31c696f047ba381f9b11a504bf1199756c3f30f3de64e3eeb83e10b4a/pyopenjtalk-0.4.1.tar.gz
    curl -fsSL -o "$work/pyopenjtalk.tar.gz" "$sdist"
    echo "d5ada46f7fc2b52c1c79c273eb9668ff6ad7ab276a8db9d8be119ef93440f0dc  $work/pyopenjtalk.tar.gz" | sha256sum -c -
    tar -xzf "$work/pyopenjtalk.tar.gz" -C "$work" pyopenjtalk-0.4.1/pyopenjtalk/htsvoice
    voice="$work/pyopenjtalk-0.4.1/pyopenjtalk/htsvoice/mei_normal.htsvoice"
fi
echo "voice: $voice ($(sha256sum "$voice" | cut -d' ' -f1))"

# Trims the silence at both ends and makes 8 kHz 16-bit mono.
to_8k() {
    sox "$1" -r 8000 -c 1 -b 16 "$2" silence 1 0.02 0.3% reverse silence 1 0.02 0.3% reverse
}
mkdir -p "$out/ja" "$out/en"
for name in vm_instructions vm_thanks; do
    open_jtalk -x /var/lib/mecab/dic/open-jtalk/naist-jdic -m "$voice" -ow "$work/$name-ja.wav" \
        "$out/ja/$name.txt"
    to_8k "$work/$name-ja.wav" "$out/ja/$name.wav"
    espeak-ng -v en-us -s 150 -w "$work/$name-en.wav" -f "$out/en/$name.txt"
    to_8k "$work/$name-en.wav" "$out/en/$name.wav"
done
# The beep: 1 kHz for half a second, faded at both ends so that it does not click.
sox -n -r 8000 -c 1 -b 16 "$out/beep.wav" synth 0.5 sine 1000 vol 0.5 fade 0.01 0.5 0.01
soxi -D "$out"/ja/*.wav "$out"/en/*.wav "$out/beep.wav"
