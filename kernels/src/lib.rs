//! oddity's kernels: every WGSL shader of `shaders/`, validated by naga at build time, with its
//! reflected bindings, uniform layout and workgroup size ([`SHADERS`]); the uniform parameter
//! structs shared by the runtime and the CPU twins ([`params`]); and an f64 CPU implementation of
//! every kernel ([`reference`]) that the tests compare the GPU against.

pub mod params;
pub mod reference;

/// How an entry point sees one binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingKind {
    Uniform,
    StorageRead,
    StorageReadWrite,
}

/// The scalar type of a uniform member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarKind {
    U32,
    I32,
    F32,
}

/// One member of a uniform struct: its name, byte offset and type.
#[derive(Clone, Copy, Debug)]
pub struct Member {
    pub name: &'static str,
    pub offset: u32,
    pub kind: ScalarKind,
}

/// One binding an entry point uses. `size` and `members` describe uniform structs.
#[derive(Clone, Copy, Debug)]
pub struct Binding {
    pub group: u32,
    pub binding: u32,
    pub name: &'static str,
    pub kind: BindingKind,
    pub size: u32,
    pub members: &'static [Member],
}

/// A compute entry point: its workgroup size and the bindings it actually uses.
#[derive(Clone, Copy, Debug)]
pub struct EntryPoint {
    pub name: &'static str,
    pub workgroup_size: [u32; 3],
    pub bindings: &'static [Binding],
}

/// One shader file (after `#import` expansion) and its entry points.
#[derive(Clone, Copy, Debug)]
pub struct Shader {
    pub name: &'static str,
    pub source: &'static str,
    /// The optional wgpu features (by name) this variant needs beyond [`SHADER_FEATURES`]:
    /// `SUBGROUP` for a subgroup variant.
    pub needs: &'static [&'static str],
    pub entry_points: &'static [EntryPoint],
}

include!(concat!(env!("OUT_DIR"), "/shaders.rs"));

/// The subgroup variant of the shader named `name`, if it has one: the same entry points, with
/// its reductions written with subgroup operations (built from the `shared/*_sg.wgsl` twins).
pub fn subgroup_variant(name: &str) -> Option<&'static Shader> {
    SHADERS.iter().find(|s| {
        s.name.strip_suffix(SUBGROUP_SUFFIX) == Some(name) && s.needs.contains(&"SUBGROUP")
    })
}

/// The shader named `name` (a file stem of `shaders/`) and its entry point `entry`.
pub fn entry_point(name: &str, entry: &str) -> Option<(&'static Shader, &'static EntryPoint)> {
    let shader = SHADERS.iter().find(|s| s.name == name)?;
    let ep = shader.entry_points.iter().find(|e| e.name == entry)?;
    Some((shader, ep))
}
