#!/bin/sh
# Tiny compressed audio fixtures for test/audio-compressed.test.ts (committed; this script made them).
# Needs ffmpeg (Debian: apt-get install ffmpeg). A 0.6 s, 16 kHz mono signal: a 440 Hz tone then a
# 1 kHz tone, encoded as MP3 (libmp3lame, 32 kb/s, ID3v2 tag) and Ogg/Opus (libopus, 24 kb/s), plus
# a stereo 44.1 kHz MP3 without a tag.
set -e
out=${1:-test/fixtures/audio}
mkdir -p "$out"
sig="aevalsrc='if(lt(t,0.3),0.5*sin(2*PI*440*t),0.5*sin(2*PI*1000*t))':s=16000:d=0.6"
ffmpeg -loglevel error -y -f lavfi -i "$sig" -c:a libmp3lame -b:a 32k -metadata title=tone "$out/tone.mp3"
ffmpeg -loglevel error -y -f lavfi -i "$sig" -c:a libopus -b:a 24k "$out/tone.opus"
ffmpeg -loglevel error -y -f lavfi -i "$sig" -ac 2 -ar 44100 -c:a libmp3lame -b:a 64k -write_id3v2 0 "$out/stereo44k.mp3"
ls -l "$out"
