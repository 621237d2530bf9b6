#!/usr/bin/env bash
# generate.sh makes pattern.h264, the clip the hub's test-pattern camera plays in a loop while nobody
# publishes (streaming/testpattern.go embeds it with //go:embed, so the file is committed).
#
# Regenerate it only to change the picture or the encoding, then commit the new file:
#
#     streaming/testpattern/generate.sh
#
# It needs ffmpeg with libx264 and libfreetype (Debian's ffmpeg package); the same ffmpeg makes the same
# file byte for byte.
#
# The encoding is what every WebRTC browser decodes and what testpattern.go expects: raw H.264 Annex B,
# constrained baseline (profile baseline, level 3.1, no B-frames, so decoding order is presentation
# order), 640x360 at 30 fps, 4 s (120 frames), an IDR every 30 frames exactly (a viewer who joins waits
# at most 1 s for a picture), an access unit delimiter before every access unit (testpattern.go splits
# access units on them) and SPS/PPS before every IDR (so every keyframe decodes on its own). x264's SEI
# with its version and options is dropped: it is of no use to a decoder and would change with x264.
#
# Everything that moves runs with a period of 4 s, the clip's length, so the loop has no jump when it
# restarts. A faint grain, like a camera sensor's, makes x264 spend about 500 kbit/s, what a camera
# costs, where the flat bars alone come to under 300 even at QP 6. The caption needs a font; without
# one (no fontconfig, no DejaVu) the clip goes without it.
set -euo pipefail

cd "$(dirname "$0")"

fps=30
frames=120 # 4 s
size=640x360

font=""
if command -v fc-match >/dev/null 2>&1; then
	font="$(fc-match --format='%{file}' 'DejaVu Sans:bold' 2>/dev/null || true)"
fi
if [[ -z "$font" || ! -f "$font" ]]; then
	font=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf
fi

# SMPTE bars with a white square sliding back and forth (one round trip per loop), a yellow line sweeping
# down the picture (once per loop), the caption, a frame counter and the grain. drawbox cannot move in
# ffmpeg 5.1, so the square and the line are overlaid.
filter="[0][1]overlay=eval=frame:x='(W-w)/2*(1-cos(2*PI*n/${frames}))':y=H*0.62[moving]"
filter+=";[moving][2]overlay=eval=frame:x=0:y='H*n/${frames}'"
if [[ -f "$font" ]]; then
	filter+=",drawtext=fontfile=${font}:text='stagelink test pattern':fontsize=36:fontcolor=white"
	filter+=":box=1:boxcolor=black@0.6:boxborderw=10:x=(w-text_w)/2:y=h*0.12"
	filter+=",drawtext=fontfile=${font}:text='%{eif\\:n+1\\:d\\:3} / ${frames}':fontsize=24:fontcolor=white"
	filter+=":box=1:boxcolor=black@0.6:boxborderw=6:x=(w-text_w)/2:y=h*0.86"
else
	echo "generate.sh: no font found, making the pattern without text" >&2
fi
filter+=",noise=alls=3:allf=t,format=yuv420p"

# -threads 1: zerolatency's sliced threads would cut each frame into as many slices as the machine has
# cores, and the file would change with the machine.
ffmpeg -hide_banner -loglevel error -y \
	-f lavfi -i "smptehdbars=size=${size}:rate=${fps}" \
	-f lavfi -i "color=white:size=48x48:rate=${fps}" \
	-f lavfi -i "color=yellow:size=640x4:rate=${fps}" \
	-filter_complex "$filter" \
	-frames:v "$frames" \
	-c:v libx264 -profile:v baseline -level:v 3.1 -tune zerolatency -preset medium -threads 1 \
	-b:v 500k -maxrate 600k -bufsize 500k \
	-x264-params "keyint=${fps}:min-keyint=${fps}:scenecut=0:bframes=0:aud=1:repeat-headers=1" \
	-bsf:v filter_units=remove_types=6 \
	-f h264 pattern.h264

echo "generate.sh: wrote $(wc -c <pattern.h264) bytes to $(pwd)/pattern.h264" >&2
