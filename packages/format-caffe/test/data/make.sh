#!/bin/sh
# Regenerates the binary test caffemodels from the text sources next to this script with
# Google's protobuf encoder (Debian package protobuf-compiler). Run from anywhere:
#   sh packages/format-caffe/test/data/make.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
schema="$here/../../schema"
cd "$here"
enc() { protoc --encode=caffe.NetParameter -I "$schema" caffe.proto < "$1.prototxt" > "$2.caffemodel"; }
enc tiny_trained tiny
enc v1 v1
enc double double
protoc --encode=forktest.NetParameter -I "$here" fork.proto < fork_true.prototxt > fork_true.caffemodel
protoc --encode=forktest.NetParameter -I "$here" fork.proto < fork_false.prototxt > fork_false.caffemodel
protoc --version > PROTOC_VERSION
ls -l ./*.caffemodel
