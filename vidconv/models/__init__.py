"""The networks of the book, built from vidconv's blocks.

================  ==========================================================  ==========================
builder           paper                                                       torchvision twin
================  ==========================================================  ==========================
``c3d``           Tran et al., ICCV 2015                                      —
``i3d``           Carreira & Zisserman, CVPR 2017                             —
``r3d_18``        Tran et al., CVPR 2018                                      ``r3d_18`` (same weights)
``mc3_18``        Tran et al., CVPR 2018                                      ``mc3_18`` (same weights)
``r2plus1d_18``   Tran et al., CVPR 2018                                      ``r2plus1d_18`` (same weights)
``mixed_resnet``  Tran et al., CVPR 2018: MCx, rMCx, R3D, f-R2D, R2D by name   ``mc3_18`` = ``"MC3"``
``s3d``           Xie et al., ECCV 2018 (``gating=True``: S3D-G)              ``s3d`` (same weights)
``slowfast_r50``  Feichtenhofer et al., ICCV 2019 (SlowFast-R50, 8x8)          pytorchvideo's (renamed keys)
``x3d``           Feichtenhofer, CVPR 2020 (X3D-XS/S/M/L by ``size``)          pytorchvideo's (renamed keys)
``movinet_a0``    Kondratyuk et al., CVPR 2021 (causal, streams chunk by chunk) —
================  ==========================================================  ==========================

``inflate_conv``, ``inflate_batchnorm``, ``inflate_pool`` and ``inflate_network`` turn 2D layers and
whole 2D networks into 3D ones by the I3D recipe. Building a model never downloads anything;
``weights=`` does, and only then. SlowFast and X3D take no ``weights=``: pytorchvideo's checkpoints load
after renaming their keys (:mod:`vidconv.models.pytorchvideo_keys`); pytorchvideo is only a test reference.
"""

from vidconv.layers.inception import InceptionBlock3d
from vidconv.layers.inflate import (
    InflatedConv3d,
    inflate_batchnorm,
    inflate_conv,
    inflate_network,
    inflate_pool,
)
from vidconv.models.c3d import C3D, c3d
from vidconv.models.i3d import I3D, i3d
from vidconv.models.mixed import MIXED_MEMBERS, mixed_resnet, temporal_groups
from vidconv.models.movinet import MoViNet, movinet_a0
from vidconv.models.resnet import (
    BasicBlock,
    BasicStem,
    Bottleneck,
    R2Plus1dStem,
    VideoResNet,
    mc3_18,
    r2plus1d_18,
    r3d_18,
)
from vidconv.models.s3d import S3D, s3d
from vidconv.models.slowfast import FastToSlow, SlowFast, slowfast_r50
from vidconv.models.x3d import X3D, X3D_AXES, X3D_SIZES, X3DSize, x3d

__all__ = [
    "C3D",
    "I3D",
    "MIXED_MEMBERS",
    "MoViNet",
    "S3D",
    "BasicBlock",
    "BasicStem",
    "Bottleneck",
    "InceptionBlock3d",
    "InflatedConv3d",
    "R2Plus1dStem",
    "VideoResNet",
    "c3d",
    "i3d",
    "inflate_batchnorm",
    "inflate_conv",
    "inflate_network",
    "inflate_pool",
    "mc3_18",
    "mixed_resnet",
    "movinet_a0",
    "r2plus1d_18",
    "r3d_18",
    "s3d",
    "temporal_groups",
    "FastToSlow",
    "SlowFast",
    "slowfast_r50",
    "X3D",
    "X3D_AXES",
    "X3D_SIZES",
    "X3DSize",
    "x3d",
]
